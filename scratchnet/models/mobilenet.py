"""MobileNets: convolutions factored so that a phone can run them (deck 004).

A standard KxK convolution from C to M channels does both jobs at once, filtering in space
and mixing channels: K*K*C*M weights. The depthwise-separable convolution splits them:

    depthwise   one KxK filter per channel (groups = C)    K*K*C weights   (space only)
    pointwise   1x1 convolution C -> M                     C*M weights     (channels only)

For K = 3, C = M = 512 that is 4,608 + 262,144 = 266,752 weights instead of 2,359,296,
8.8x fewer, and as many fewer multiply-adds per pixel.

MobileNet v1 (Howard et al., 2017) is a 3x3 stem and thirteen such blocks (each depthwise
and pointwise conv followed by BN and ReLU), then a global average pool and one fully
connected layer: 4,231,976 parameters for 1000 classes (the paper's "4.2 million").

MobileNet v2 (Sandler et al., 2018) builds on the inverted residual block: expand the
channels t-fold with a 1x1 conv, filter with a 3x3 depthwise conv, project back down with a
linear 1x1 conv (no ReLU: a ReLU in a narrow layer destroys information), and add the input
when the shapes allow. Its activation is ReLU6 = min(max(x, 0), 6). Module names and
state-dict keys are torchvision's ("features.3.conv.1.0.weight"): 3,504,872 parameters.
"""
from __future__ import annotations

from .. import nn
from ..nn import functional as F
from ..nn import init
from .pretrained import with_weights


def _make_divisible(v: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of `divisor` (hardware likes multiples of 8),
    never going more than 10% below v."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNActivation(nn.Sequential):
    """conv (no bias, 'same' padding) -> BatchNorm -> activation, as a Sequential numbered
    0, 1, 2 like torchvision's Conv2dNormActivation. (N, C, H, W) -> (N, K, H/s, W/s)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, groups: int = 1, activation=nn.ReLU6):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                      padding=(kernel_size - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            activation(),
        )


class DepthwiseSeparableConv(nn.Module):
    """3x3 depthwise conv + BN + ReLU, then 1x1 pointwise conv + BN + ReLU (MobileNet v1).
    (N, C, H, W) -> (N, out_channels, H/stride, W/stride)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 activation=nn.ReLU):
        super().__init__()
        self.depthwise = ConvBNActivation(in_channels, in_channels, 3, stride,
                                          groups=in_channels, activation=activation)
        self.pointwise = ConvBNActivation(in_channels, out_channels, 1, activation=activation)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class MobileNetV1(nn.Module):
    """(N, 3, H, W) -> (N, num_classes), any H, W (224 in the paper): every
    stride-2 layer pads, and the average pool is global."""

    # (output channels, stride) of the thirteen depthwise-separable blocks, the paper's Table 1
    BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
              (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0,
                 dropout: float = 0.0):
        super().__init__()

        def width(c):
            return _make_divisible(c * width_mult) if width_mult != 1.0 else c

        layers = [ConvBNActivation(3, width(32), 3, stride=2, activation=nn.ReLU)]
        channels = width(32)
        for out_channels, stride in self.BLOCKS:
            layers.append(DepthwiseSeparableConv(channels, width(out_channels), stride))
            channels = width(out_channels)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(channels, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


class InvertedResidual(nn.Module):
    """MobileNet v2's block: 1x1 expand (t-fold) + ReLU6, 3x3 depthwise + ReLU6, 1x1 linear
    projection; plus the input when stride is 1 and the channels match.
    (N, C, H, W) -> (N, out_channels, H/stride, W/stride)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        hidden = int(round(in_channels * expand_ratio))
        self.stride = stride
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNActivation(in_channels, hidden, kernel_size=1))
        layers += [
            ConvBNActivation(hidden, hidden, 3, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, kernel_size=1, bias=False),   # linear bottleneck
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = out_channels

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)

    def receptive_paths(self):
        """The convolutions, and the residual connection when there is one."""
        return [[self.conv], []] if self.use_res_connect else [[self.conv]]


class MobileNetV2(nn.Module):
    """(N, 3, H, W) -> (N, num_classes), any H, W (224 in the paper)."""

    # t (expansion), c (output channels), n (repeats), s (stride of the first): Table 2
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0,
                 dropout: float = 0.2):
        super().__init__()
        channels = _make_divisible(32 * width_mult)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult))
        layers = [ConvBNActivation(3, channels, 3, stride=2)]
        for t, c, n, s in self.SETTINGS:
            out_channels = _make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(channels, out_channels, s if i == 0 else 1, t))
                channels = out_channels
        layers.append(ConvBNActivation(channels, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Linear(self.last_channel, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                init.normal_(m.weight, 0.0, 0.01)
                init.zeros_(m.bias)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(x.flatten(1))


def mobilenet_v1(num_classes: int = 1000, **kwargs) -> MobileNetV1:
    """MobileNet v1 (1.0, 224): 4,231,976 parameters."""
    return MobileNetV1(num_classes=num_classes, **kwargs)


@with_weights("mobilenet_v2")
def mobilenet_v2(num_classes: int = 1000, **kwargs) -> MobileNetV2:
    """MobileNet v2 (1.0, 224), torchvision's layout: 3,504,872 parameters."""
    return MobileNetV2(num_classes=num_classes, **kwargs)

