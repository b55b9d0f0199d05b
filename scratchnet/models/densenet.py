"""DenseNet (Huang et al., 2016): where ResNet adds a block's input to its output, DenseNet
concatenates (deck 001).

Inside a dense block, layer i reads the concatenation of the block input and every earlier
layer's output, and adds `growth_rate` new channels:

    channels into layer i = c0 + i * growth_rate

Each layer is BN-ReLU-1x1 conv (to bn_size * growth_rate channels, the "bottleneck")
-BN-ReLU-3x3 conv (to growth_rate). Between blocks a transition block, BN-ReLU-1x1 conv (halving
the channels) -2x2 average pool (halving the map), keeps the growth in check.

    densenet121: growth 32, blocks (6, 12, 24, 16), 64 stem channels: 7,978,856 parameters
    densenet169: growth 32, blocks (6, 12, 32, 32):                   14,149,480 parameters

Module names and state-dict keys are torchvision's
("features.denseblock2.denselayer3.conv1.weight", "features.transition1.conv.weight").
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ..nn import functional as F
from ..nn import init
from .. import cat
from .pretrained import with_weights


class DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv-BN-ReLU-3x3 conv on the concatenation of all earlier features.
    list of (N, C_j, H, W) with sum C_j = in_channels -> (N, growth_rate, H, W)."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int, drop_rate: float = 0.0):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1,
                               bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, features):
        x = cat(features, dim=1) if isinstance(features, (list, tuple)) else features
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        if self.drop_rate > 0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x


class DenseBlock(nn.ModuleDict):
    """`num_layers` DenseLayers, each fed with everything before it.
    (N, C, H, W) -> (N, C + num_layers * growth_rate, H, W)."""

    def __init__(self, num_layers: int, in_channels: int, bn_size: int, growth_rate: int,
                 drop_rate: float = 0.0):
        super().__init__()
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = DenseLayer(in_channels + i * growth_rate, growth_rate,
                                                    bn_size, drop_rate)

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return cat(features, dim=1)

    def receptive_paths(self):
        """The longest path runs through every layer (each reads all earlier outputs); the
        block input itself is concatenated unchanged."""
        return [list(self.values()), []]


class Transition(nn.Sequential):
    """BN-ReLU-1x1 conv-2x2 average pool between dense blocks.
    (N, C, H, W) -> (N, out_channels, H/2, W/2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """(N, 3, H, W) -> (N, num_classes), H, W >= 29 (224 in the paper)."""

    def __init__(self, growth_rate: int = 32, block_config=(6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0.0,
                 num_classes: int = 1000):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3,
                                bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU()),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}",
                                     DenseBlock(num_layers, channels, bn_size, growth_rate,
                                                drop_rate))
            channels += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}",
                                         Transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                init.zeros_(m.bias)

    def forward(self, x):
        x = F.relu(self.features(x))
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(x.flatten(1))


@with_weights("densenet121")
def densenet121(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-121: 7,978,856 parameters."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes, **kwargs)


@with_weights("densenet169")
def densenet169(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-169: 14,149,480 parameters."""
    return DenseNet(32, (6, 12, 32, 32), 64, num_classes=num_classes, **kwargs)
