"""The architectures of the course, as readable code. Constructors take `num_classes`."""
from .lenet import LeNet5, lenet5  # noqa: F401
