"""The network of the ConvNetJS CIFAR-10 browser demo (Karpathy), which deck 002 runs live.

The demo's layer definitions, line for line:

    input    32 x 32 x 3
    conv     16 filters 5x5, stride 1, pad 2, ReLU   -> 32 x 32 x 16     1,216 parameters
    pool     2x2, stride 2 (max)                     -> 16 x 16 x 16
    conv     20 filters 5x5, stride 1, pad 2, ReLU   -> 16 x 16 x 20     8,020
    pool     2x2, stride 2                           ->  8 x  8 x 20
    conv     20 filters 5x5, stride 1, pad 2, ReLU   ->  8 x  8 x 20    10,020
    pool     2x2, stride 2                           ->  4 x  4 x 20
    softmax  10 classes (a fully connected layer, then softmax in the loss)   3,210

22,466 parameters: small enough to train in a browser tab (the deck shows 8 ms forward and
16 ms backward per example), and on a laptop CPU here.
"""
from __future__ import annotations

from .. import nn


class ConvNetJSCifar10(nn.Module):
    """(N, 3, 32, 32) -> (N, num_classes) logits."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(16, 20, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(20, 20, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        )
        self.classifier = nn.Linear(20 * 4 * 4, num_classes)

    def forward(self, x):
        features = self.features(x)
        if tuple(features.shape[2:]) != (4, 4):
            raise ValueError(f"ConvNetJSCifar10 expects (N, 3, 32, 32) CIFAR-10 images, got "
                             f"{tuple(x.shape)}: three 2x2 poolings must leave 4x4 maps for the "
                             f"20*4*4 = 320-input classifier, not {tuple(features.shape[2:])}")
        return self.classifier(features.flatten(1))


def convnetjs_cifar10(num_classes: int = 10) -> ConvNetJSCifar10:
    """The ConvNetJS CIFAR-10 demo net (deck 002): 22,466 parameters."""
    return ConvNetJSCifar10(num_classes=num_classes)
