"""A small convolutional backbone for detection on 64x64 DigitScenes, shared by R-CNN,
SPPNet, Fast R-CNN, Faster R-CNN and Mask R-CNN.

    backbone = digit_scenes_backbone()            # 1 input channel, widths (16, 32, 64)
    features = backbone(images)                   # (N, 1, 64, 64) -> (N, 64, 16, 16)
    backbone.out_channels, backbone.stride        # 64, 4

Stages of [3x3 conv (padding 1), BatchNorm, ReLU] x 2 with a 2x2 max pool between stages, so
that len(widths) stages give stride 2 ** (len(widths) - 1): one feature-map cell covers
stride x stride image pixels, and RoI pooling maps image boxes onto the map with
spatial_scale = 1 / stride. The papers use VGG-16's conv5 (stride 16, 512 channels) on
600-pixel images; the digits here are 4 to 51 pixels tall in a 64-pixel scene, so the default
keeps stride 4 (a 16x16 map): at stride 16 the smallest digits would be a quarter of one
cell. With widths (16, 32, 64) the receptive field of one output cell is 32x32 pixels.
"""
from __future__ import annotations

from ... import nn


class ConvBackbone(nn.Module):
    """(N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride) with
    out_channels = widths[-1] and stride = 2 ** (len(widths) - 1); H and W must be multiples
    of the stride."""

    def __init__(self, in_channels: int = 1, widths=(16, 32, 64)):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if not widths or min(widths) < 1:
            raise ValueError(f"ConvBackbone: widths must be one or more positive channel "
                             f"counts, got {widths!r}")
        layers, c_in = [], int(in_channels)
        for i, c in enumerate(widths):
            if i:
                layers.append(nn.MaxPool2d(2, 2))
            for a, b in ((c_in, c), (c, c)):
                layers += [nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU()]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.in_channels = int(in_channels)
        self.widths = widths
        self.out_channels = widths[-1]
        self.stride = 2 ** (len(widths) - 1)

    @property
    def spatial_scale(self) -> float:
        """Feature-map pixels per image pixel (RoI pooling's spatial_scale)."""
        return 1.0 / self.stride

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ConvBackbone: expected images (N, {self.in_channels}, H, W), "
                             f"got shape {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % self.stride or w % self.stride:
            raise ValueError(f"ConvBackbone(stride {self.stride}): the image sides must be "
                             f"multiples of {self.stride} so that the feature map covers the "
                             f"image exactly; got {h}x{w} ({h} / {self.stride} = "
                             f"{h / self.stride:g}, {w} / {self.stride} = {w / self.stride:g})")
        return self.body(x)


def digit_scenes_backbone(in_channels: int = 1, widths=(16, 32, 64)) -> ConvBackbone:
    """The backbone the DigitScenes detectors use: stride 4, 64 output channels."""
    return ConvBackbone(in_channels, widths)
