"""Squeeze-and-Excitation networks (Hu, Shen and Sun, 2017), deck 003's SENet.

An SE block lets a layer re-weight its own channels from a summary of the whole image:

    squeeze     z = global average pool of x                       (N, C, H, W) -> (N, C)
    excitation  s = sigmoid(W2 relu(W1 z)), W1: C -> C/r, W2: C/r -> C      (N, C) -> (N, C)
    scale       y = x * s, channel by channel                      -> (N, C, H, W)

With reduction r = 16 it costs 2C^2/16 + C + C/16 parameters. SE-ResNet-50 puts one inside
every bottleneck, after the last BatchNorm and before the shortcut is added: 28,088,024
parameters, 2,530,992 more than ResNet-50 (about 10%), the count of the authors' model.
"""
from __future__ import annotations

from .. import nn
from ..nn import functional as F
from .resnet import Bottleneck, ResNet


class SEBlock(nn.Module):
    """Squeeze (global average pool), excitation (fc C -> C/r, ReLU, fc C/r -> C, sigmoid),
    scale. (N, C, H, W) -> (N, C, H, W)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        if channels % reduction:
            raise ValueError(f"SEBlock: {channels} channels do not divide by the reduction "
                             f"{reduction} ({channels}/{reduction} = {channels / reduction:.3g})")
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, x):
        z = x.mean(dim=(2, 3))                              # squeeze: (N, C)
        s = F.sigmoid(self.fc2(F.relu(self.fc1(z))))        # excitation: (N, C), in (0, 1)
        return x * s.reshape(s.shape[0], s.shape[1], 1, 1)  # scale each channel


class SEBottleneck(Bottleneck):
    """A ResNet bottleneck whose residual F(x) is re-weighted by an SEBlock before the
    shortcut is added. (N, inplanes, H, W) -> (N, 4 * planes, H/stride, W/stride)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None,
                 groups: int = 1, base_width: int = 64, reduction: int = 16):
        super().__init__(inplanes, planes, stride, downsample, groups, base_width)
        self.se = SEBlock(planes * self.expansion, reduction)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.se(self.residual(x)) + identity)

    def receptive_paths(self):
        # the squeeze averages over the whole map: every output sees every input pixel
        return [[self.conv1, self.conv2, self.conv3, self.se],
                [self.downsample] if self.downsample is not None else []]


def se_resnet50(num_classes: int = 1000, **kwargs) -> ResNet:
    """SE-ResNet-50 (reduction 16): 28,088,024 parameters."""
    return ResNet(SEBottleneck, [3, 4, 6, 3], num_classes=num_classes, **kwargs)
