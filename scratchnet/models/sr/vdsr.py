"""VDSR (Kim, Lee, Lee, CVPR 2016): a very deep network that learns the residual image.

    ILR (N, 1, H, W) -> conv 3x3, 64 + ReLU  -> (depth - 2) x (conv 3x3, 64 + ReLU)
                     -> conv 3x3, 1   = r      output ILR + r

The input is the bicubically upscaled image (as SRCNN); the network only has to predict the
difference to the high-resolution image, which is small and mostly edges, so it trains fast
at high learning rates. depth = 20 layers of 3x3 see 1 + 20 * 2 = 41 x 41 pixels, against
SRCNN's 13 x 13.
"""
from __future__ import annotations

from ... import nn
from ...nn import init


class VDSR(nn.Module):
    """(N, C, H, W) -> (N, C, H, W): input + residual. Weights 9 * 64 * (2C + 64 (depth - 2))
    (664,704 for depth 20, one channel)."""

    def __init__(self, depth=20, channels=64, num_channels=1):
        super().__init__()
        if depth < 2:
            raise ValueError(f"VDSR: depth counts the first and last convolutions too, so it "
                             f"must be >= 2, got {depth}")
        layers = [nn.Conv2d(num_channels, channels, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(channels, num_channels, 3, padding=1))
        self.residual = nn.Sequential(*layers)
        self.depth = depth
        for m in self.residual:
            if isinstance(m, nn.Conv2d):
                # He et al.'s initialisation, as the paper; the last layer starts near zero so
                # that the untrained network already returns its (bicubic) input
                if m is layers[-1]:
                    init.normal_(m.weight, std=1e-3)
                else:
                    init.kaiming_normal_(m.weight, nonlinearity="relu")
                init.zeros_(m.bias)

    def forward(self, x):
        """x: (N, C, H, W) bicubically upscaled -> x + residual(x)."""
        return x + self.residual(x)

    def extra_repr(self):
        return f"depth={self.depth}"


def vdsr(depth=20, channels=64, num_channels=1):
    """VDSR with `depth` convolutions (20 in the paper)."""
    return VDSR(depth, channels, num_channels)
