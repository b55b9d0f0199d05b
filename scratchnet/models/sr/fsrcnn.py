"""FSRCNN (Dong, Loy, Tang, ECCV 2016): SRCNN made fast by working at low resolution.

    LR (N, 1, h, w) -> conv 5x5, d  + PReLU   feature extraction
                    -> conv 1x1, s  + PReLU   shrinking
                    -> m x (conv 3x3, s + PReLU)   mapping
                    -> conv 1x1, d  + PReLU   expanding
                    -> deconv 9x9, stride = scale    -> HR (N, 1, scale*h, scale*w)

The paper's Table 1 walks from SRCNN-Ex to FSRCNN in steps, at upscaling factor 3:

    model                 layers                                          weights  speed-up
    SRCNN-Ex              conv(9,64) conv(5,32) conv(5,1)  on HR            57,184      1x
    Transition State 1    conv(9,64) conv(5,32) deconv(9,1) on LR           58,976    8.7x
    Transition State 2    conv(9,64) conv(1,12) 4 x conv(3,12) conv(1,64)
                          deconv(9,1) on LR                                 17,088   30.1x
    FSRCNN (56, 12, 4)    conv(5,56) conv(1,12) 4 x conv(3,12) conv(1,56)
                          deconv(9,1) on LR                                 12,464   41.3x

The weights count convolution weights only (no biases, no PReLU slopes). The speed-ups are
multiply-accumulates per high-resolution pixel: a model on the LR image does its weights'
worth of MACs per LR pixel, i.e. weights / scale^2 per HR pixel (the deconvolution's 81 d
MACs per LR input pixel included), so speed-up = 57,184 * 9 / weights: 8.73, 30.12, 41.29.

Convolutions are padded to keep h x w, and the deconvolution's padding and output_padding
make its output exactly scale * h: (h - 1) * s - 2p + 9 + output_padding = s * h with
p = (9 - s + 1) // 2 and output_padding = 2p - (9 - s).
"""
from __future__ import annotations

from ... import nn
from ...nn import init


def _paper_init(model):
    """The paper's initialisation: He et al.'s (for PReLU, slope 0.25) on the convolutions,
    N(0, 0.001^2) on the deconvolution, zero biases. PyTorch's default (uniform,
    a = sqrt(5)) shrinks the signal through the thin 12-channel layers and trains slower."""
    for m in model.modules():
        if isinstance(m, nn.ConvTranspose2d):
            init.normal_(m.weight, std=1e-3)
        elif isinstance(m, nn.Conv2d):
            init.kaiming_normal_(m.weight, a=0.25, nonlinearity="leaky_relu")
        else:
            continue
        init.zeros_(m.bias)


def deconvolution(in_channels, out_channels, scale, kernel_size=9):
    """ConvTranspose2d whose output is exactly `scale` times its input, (N, C, h, w) ->
    (N, K, scale*h, scale*w)."""
    if not isinstance(scale, int) or scale < 1 or scale > kernel_size:
        raise ValueError(f"FSRCNN deconvolution: scale must be an int in [1, {kernel_size}] "
                         f"(the kernel must cover the stride), got {scale!r}")
    padding = (kernel_size - scale + 1) // 2
    output_padding = 2 * padding - (kernel_size - scale)
    return nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=scale,
                              padding=padding, output_padding=output_padding)


def _conv_prelu(cin, cout, k):
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2), nn.PReLU(cout))


class FSRCNN(nn.Module):
    """FSRCNN(d, s, m) at upscaling factor `scale`; first_kernel=9 and d=64 give the table's
    Transition State 2. (N, C, h, w) -> (N, C, scale*h, scale*w)."""

    def __init__(self, d=56, s=12, m=4, scale=3, first_kernel=5, num_channels=1):
        super().__init__()
        self.feature_extraction = _conv_prelu(num_channels, d, first_kernel)
        self.shrinking = _conv_prelu(d, s, 1)
        self.mapping = nn.Sequential(*[_conv_prelu(s, s, 3) for _ in range(m)])
        self.expanding = _conv_prelu(s, d, 1)
        self.deconvolution = deconvolution(d, num_channels, scale)
        self.config = (d, s, m, scale)
        _paper_init(self)

    def forward(self, x):
        """x: (N, C, h, w) low resolution -> (N, C, scale*h, scale*w)."""
        x = self.feature_extraction(x)
        x = self.expanding(self.mapping(self.shrinking(x)))
        return self.deconvolution(x)

    def extra_repr(self):
        d, s, m, scale = self.config
        return f"d={d}, s={s}, m={m}, scale={scale}"


class SRCNNDeconv(nn.Module):
    """The table's Transition State 1: SRCNN-Ex's first two layers (ReLU) on the LR image, its
    last convolution replaced by a 9x9 deconvolution that upscales.
    (N, C, h, w) -> (N, C, scale*h, scale*w)."""

    def __init__(self, scale=3, n1=64, n2=32, num_channels=1):
        super().__init__()
        self.patch_extraction = nn.Conv2d(num_channels, n1, 9, padding=4)
        self.nonlinear_mapping = nn.Conv2d(n1, n2, 5, padding=2)
        self.relu = nn.ReLU()
        self.deconvolution = deconvolution(n2, num_channels, scale)
        _paper_init(self)

    def forward(self, x):
        x = self.relu(self.patch_extraction(x))
        return self.deconvolution(self.relu(self.nonlinear_mapping(x)))


def fsrcnn(d=56, s=12, m=4, scale=3, num_channels=1):
    """FSRCNN(d, s, m); the default (56, 12, 4) has 12,464 weights."""
    return FSRCNN(d, s, m, scale, 5, num_channels)


def fsrcnn_transition1(scale=3, num_channels=1):
    """Transition State 1 of FSRCNN's Table 1 (58,976 weights)."""
    return SRCNNDeconv(scale, num_channels=num_channels)


def fsrcnn_transition2(scale=3, num_channels=1):
    """Transition State 2 of FSRCNN's Table 1 (17,088 weights): FSRCNN(64, 12, 4) with
    SRCNN's 9x9 first layer."""
    return FSRCNN(64, 12, 4, scale, 9, num_channels)
