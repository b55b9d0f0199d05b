"""U-Net (Ronneberger, Fischer and Brox, MICCAI 2015): the encoder-decoder with skips that
segmentation, and microscopy above all, reaches for first. Not in the decks; it is FCN's
skip idea taken to every level: each decoder stage upsamples 2x with a 2x2 transposed
convolution, concatenates the encoder map of the same size (cropped to fit when the
convolutions are unpadded), and applies two 3x3 convolutions.

    (N, C, H, W)
      down: [3x3 conv, ReLU] x 2 with 64, 128, 256, 512, 1024 channels, 2x2 max pool between
      up:   2x2 up-convolution halving the channels, concatenate the skip, [3x3 conv, ReLU] x 2
      1x1 conv to num_classes
    -> (N, num_classes, H', W')

The paper's convolutions are unpadded (`padding=0`): a 572x572 tile gives a 388x388 map,
and the skips are centre-cropped. `padding=1` keeps every size (H' = H for H a multiple of
16), the way most implementations run it today. `batch_norm` adds BatchNorm2d after every
convolution (not in the paper). Parameters at width 1, 1 input channel and 2 classes:
31,030,658. `width` scales every channel count.
"""
from __future__ import annotations

from ... import cat, nn
from .fcn import _scaled


def _double_conv(c_in, c_out, padding, batch_norm):
    layers = []
    for a, b in ((c_in, c_out), (c_out, c_out)):
        layers.append(nn.Conv2d(a, b, 3, padding=padding))
        if batch_norm:
            layers.append(nn.BatchNorm2d(b))
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _centre_crop(x, like):
    h, w = like.shape[-2:]
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[:, :, top:top + h, left:left + w]


class UNet(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes, H', W'); see the module docstring."""

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: float = 1.0,
                 padding: int = 0, batch_norm: bool = False, depth: int = 4):
        super().__init__()
        if padding not in (0, 1):
            raise ValueError(f"UNet: padding must be 0 (the paper's) or 1, got {padding}")
        self.padding, self.depth = padding, depth
        channels = [_scaled(64 * 2 ** i, width) for i in range(depth + 1)]
        self.down = nn.ModuleList()
        c_in = in_channels
        for c in channels:
            self.down.append(_double_conv(c_in, c, padding, batch_norm))
            c_in = c
        self.pool = nn.MaxPool2d(2, 2)
        self.up = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        for c in reversed(channels[:-1]):
            self.up.append(nn.ConvTranspose2d(c_in, c, 2, stride=2))
            self.up_conv.append(_double_conv(2 * c, c, padding, batch_norm))
            c_in = c
        self.head = nn.Conv2d(c_in, num_classes, 1)

    def output_size(self, size: int) -> int:
        """The side of the output for an input side `size` (388 for 572 unpadded)."""
        if self.padding:
            return size
        for _ in range(self.depth):
            size = (size - 4) // 2
        size -= 4
        for _ in range(self.depth):
            size = size * 2 - 4
        return size

    def forward(self, x):
        h, w = x.shape[-2:]
        step = 2 ** self.depth
        if self.padding and (h % step or w % step):
            raise ValueError(f"UNet: with padding=1 the input sides must be multiples of "
                             f"2^{self.depth} = {step}, got {h}x{w}")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < self.depth:
                skips.append(x)
                if x.shape[-2] % 2 or x.shape[-1] % 2:
                    raise ValueError(f"UNet: an encoder map of {x.shape[-2]}x{x.shape[-1]} "
                                     f"cannot be pooled 2x2 evenly; for padding=0 pick an "
                                     f"input side s with output_size(s) > 0 and even maps "
                                     f"(572, 188, 140, 92 ...)")
                x = self.pool(x)
        for up, block, skip in zip(self.up, self.up_conv, reversed(skips)):
            x = up(x)
            x = block(cat([_centre_crop(skip, x), x], dim=1))
        return self.head(x)


def unet(in_channels: int = 1, num_classes: int = 2, width: float = 1.0, **kwargs) -> UNet:
    """U-Net; see UNet."""
    return UNet(in_channels, num_classes, width, **kwargs)
