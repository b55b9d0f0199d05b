"""SRCNN (Dong, Loy, He, Tang, ECCV 2014 / TPAMI 2016): three convolutions on the bicubically
upscaled image.

    bicubic x s  ->  conv f1 x f1, n1 + ReLU   patch extraction and representation
                 ->  conv f2 x f2, n2 + ReLU   non-linear mapping
                 ->  conv f3 x f3, 1           reconstruction

(N, 1, H, W) -> (N, 1, H, W): the input is the low-resolution image already upscaled to the
target size (by imresize, as the paper), on the Y channel. The paper's convolutions have no
padding (output (H - f1 - f2 - f3 + 3)^2 and a loss on the centre only); here every layer is
padded to keep H x W, so the whole image comes back and the metrics shave the border, which
changes no parameter or multiply-accumulate per output pixel.

Receptive field: 9-5-5 sees 9 + 4 + 4 = 17 pixels, 9-1-5 (the original paper's base model)
9 + 0 + 4 = 13, the 13 x 13 that VDSR compares with its own 41 x 41.
"""
from __future__ import annotations

from ... import nn
from ...nn import init


class SRCNN(nn.Module):
    """f1-f2-f3 with n1 and n2 filters; weights f1^2 n1 + f2^2 n1 n2 + f3^2 n2 (single
    channel): 57,184 for 9-5-5 (64, 32), 8,032 for 9-1-5."""

    def __init__(self, f1=9, f2=5, f3=5, n1=64, n2=32, num_channels=1):
        super().__init__()
        self.patch_extraction = nn.Conv2d(num_channels, n1, f1, padding=f1 // 2)
        self.nonlinear_mapping = nn.Conv2d(n1, n2, f2, padding=f2 // 2)
        self.reconstruction = nn.Conv2d(n2, num_channels, f3, padding=f3 // 2)
        self.relu = nn.ReLU()
        self.config = (f1, f2, f3, n1, n2)
        # the paper draws every weight from N(0, 0.001^2) and trains for 10^8 steps of SGD;
        # He et al.'s initialisation on the ReLU layers (and the paper's small Gaussian on the
        # linear last layer) lets Adam get past bicubic in minutes
        init.kaiming_normal_(self.patch_extraction.weight, nonlinearity="relu")
        init.kaiming_normal_(self.nonlinear_mapping.weight, nonlinearity="relu")
        init.normal_(self.reconstruction.weight, std=1e-3)
        for conv in (self.patch_extraction, self.nonlinear_mapping, self.reconstruction):
            init.zeros_(conv.bias)

    def forward(self, x):
        """x: (N, C, H, W) bicubically upscaled -> (N, C, H, W)."""
        x = self.relu(self.patch_extraction(x))
        x = self.relu(self.nonlinear_mapping(x))
        return self.reconstruction(x)

    def extra_repr(self):
        f1, f2, f3, n1, n2 = self.config
        return f"{f1}-{f2}-{f3}, n1={n1}, n2={n2}"


def srcnn(f1=9, f2=5, f3=5, n1=64, n2=32, num_channels=1):
    """SRCNN f1-f2-f3; the default 9-5-5 (64, 32) is the FSRCNN table's "SRCNN-Ex"."""
    return SRCNN(f1, f2, f3, n1, n2, num_channels)
