"""ResNet (He et al., 2015) and ResNeXt (Xie et al., 2016).

A residual block learns F(x) and outputs H(x) = F(x) + x, so dH/dx = dF/dx + 1: the gradient
always has a path of slope 1 back through the skip connection, and 152 layers still train
(decks 001 and 003). Every convolution is followed by BatchNorm; the ReLU comes after the sum.

    BasicBlock (ResNet-18/34)          Bottleneck (ResNet-50/101/152)
    x -> 3x3 conv, BN, ReLU            x -> 1x1 conv to `width`, BN, ReLU    (squeeze)
      -> 3x3 conv, BN                    -> 3x3 conv, BN, ReLU                 (the work)
      + shortcut(x) -> ReLU              -> 1x1 conv to 4 * planes, BN         (expand)
                                         + shortcut(x) -> ReLU

The shortcut is x itself when the shapes match and a 1x1 convolution with stride (+ BN) when
the block changes the channels or halves the map: the "projection shortcut" (`downsample`).
The stride sits on the 3x3 convolution of the bottleneck (torchvision's "ResNet v1.5").

ResNeXt splits the bottleneck's 3x3 convolution into `groups` parallel paths
("cardinality"): resnext50_32x4d has 32 groups of 4 channels per 64 planes.

Module names and state-dict keys are torchvision's ("layer3.1.conv2.weight",
"layer2.0.downsample.0.weight"). Parameter counts: resnet18 11,689,512; resnet34 21,797,672;
resnet50 25,557,032; resnet101 44,549,160; resnet152 60,192,808; resnext50_32x4d 25,028,904.
"""
from __future__ import annotations

from .. import nn
from ..nn import init
from .pretrained import with_weights


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (BatchNorm follows and has its own)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1,
                     groups=groups, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias: mixes channels, keeps the map (or subsamples it)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut.
    (N, inplanes, H, W) -> (N, planes, H/stride, W/stride)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None,
                 groups: int = 1, base_width: int = 64):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError(f"BasicBlock supports only groups=1 and base_width=64, got "
                             f"groups={groups}, base_width={base_width} (ResNeXt and wide "
                             f"ResNets are built from Bottleneck blocks)")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)

    def receptive_paths(self):
        """Input-to-output paths, for scratchnet.receptive_field: the convolutions, and the
        shortcut."""
        shortcut = [self.downsample] if self.downsample is not None else []
        return [[self.conv1, self.conv2], shortcut]


class Bottleneck(nn.Module):
    """1x1 squeeze, 3x3, 1x1 expand, and a shortcut.
    (N, inplanes, H, W) -> (N, 4 * planes, H/stride, W/stride).

    The 3x3 convolution works on width = planes * (base_width / 64) * groups channels.
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None,
                 groups: int = 1, base_width: int = 64):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def residual(self, x):
        """F(x): the three convolutions, before the shortcut is added."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.residual(x) + identity)

    def receptive_paths(self):
        """Input-to-output paths, for scratchnet.receptive_field: the convolutions, and the
        shortcut."""
        return [[self.conv1, self.conv2, self.conv3],
                [self.downsample] if self.downsample is not None else []]


class ResNet(nn.Module):
    """(N, 3, H, W) -> (N, num_classes), any H, W (224 in the paper): every
    stride-2 layer pads, and the average pool is global.

    stem: 7x7/2 conv + BN + ReLU + 3x3/2 max pool (224 -> 56); four stages of `layers[i]`
    blocks with 64, 128, 256, 512 planes, each stage after the first halving the map
    (56 -> 28 -> 14 -> 7); global average pool; one fully connected layer.
    `zero_init_residual=True` starts each block's last BN at zero, so every block begins as the
    identity (Goyal et al., 2017).
    """

    def __init__(self, block, layers, num_classes: int = 1000, zero_init_residual: bool = False,
                 groups: int = 1, width_per_group: int = 64):
        super().__init__()
        self.inplanes = 64
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    init.zeros_(m.bn2.weight)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            # the projection shortcut: x does not have F(x)'s shape, so project it
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample, self.groups,
                        self.base_width)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        return self.fc(self.avgpool(x).flatten(1))


@with_weights("resnet18")
def resnet18(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2], 11,689,512 parameters."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, **kwargs)


@with_weights("resnet34")
def resnet34(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-34: BasicBlocks [3, 4, 6, 3], 21,797,672 parameters."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


@with_weights("resnet50")
def resnet50(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-50: Bottlenecks [3, 4, 6, 3], 25,557,032 parameters."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


@with_weights("resnet101")
def resnet101(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-101: Bottlenecks [3, 4, 23, 3], 44,549,160 parameters."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, **kwargs)


@with_weights("resnet152")
def resnet152(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-152: Bottlenecks [3, 8, 36, 3], 60,192,808 parameters."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes=num_classes, **kwargs)


@with_weights("resnext50_32x4d")
def resnext50_32x4d(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNeXt-50 (32 groups x 4 channels): 25,028,904 parameters."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, groups=32,
                  width_per_group=4, **kwargs)
