"""PyTorch-style import paths: `from scratchnet.utils.data import DataLoader` works as
`from torch.utils.data import DataLoader` does."""
from . import data  # noqa: F401
