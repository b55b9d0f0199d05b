"""LeNet-5 (LeCun et al., 1998), exactly as deck 003's layer table gives it.

    layer    filters  size  stride  feature map  activation
    input    -        -     -       32 x 32 x 1
    conv1    6        5x5   1       28 x 28 x 6   tanh
    pool1    -        2x2   2       14 x 14 x 6   (average)
    conv2    16       5x5   1       10 x 10 x 16  tanh
    pool2    -        2x2   2       5 x 5 x 16    (average)
    conv3    120      5x5   1       1 x 1 x 120   tanh
    fc1      84       -     -       84            tanh
    fc2      10       -     -       10            (softmax in the loss)

Parameters: 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706.
"""
from __future__ import annotations

from .. import nn


class LeNet5(nn.Module):
    input_size = (1, 32, 32)

    def __init__(self, num_classes: int = 10, activation=nn.Tanh):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5),      # 32 -> 28
            activation(),
            nn.AvgPool2d(2),                     # 28 -> 14
            nn.Conv2d(6, 16, kernel_size=5),     # 14 -> 10
            activation(),
            nn.AvgPool2d(2),                     # 10 -> 5
            nn.Conv2d(16, 120, kernel_size=5),   # 5 -> 1
            activation(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(120, 84),
            activation(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        if x.ndim != 4 or tuple(x.shape[1:]) != self.input_size:
            got = tuple(x.shape[1:]) if x.ndim == 4 else tuple(x.shape)
            hint = ""
            if x.ndim == 4 and tuple(x.shape[2:]) == (28, 28):
                hint = (" MNIST-sized 28x28 images need 2 pixels of padding on each side: "
                        "add transforms.Pad(2) (LeCun padded MNIST to 32x32 the same way).")
            raise ValueError(f"LeNet5 expects (N, 1, 32, 32) images, got (N, ...) = {got} "
                             f"(input shape {tuple(x.shape)}).{hint}")
        return self.classifier(self.features(x))


def lenet5(num_classes: int = 10, **kwargs) -> LeNet5:
    """LeNet-5 for 32x32 grayscale input (deck 003's table): 61,706 parameters."""
    return LeNet5(num_classes=num_classes, **kwargs)
