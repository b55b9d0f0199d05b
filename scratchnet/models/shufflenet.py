"""ShuffleNet v2 (Ma et al., 2018): cheap blocks that still let information cross channels.

A ShuffleNet v2 unit splits its input channels in two halves. One half passes through
untouched; the other goes through 1x1 conv, 3x3 depthwise conv, 1x1 conv. The halves are
concatenated and then *shuffled*, so that the next unit's split mixes channels from both:

    channel shuffle with g groups:  (N, g*k, H, W) -> view (N, g, k, H, W)
                                    -> swap the g and k axes -> view (N, k*g, H, W)

For g = 2 and channels [a0 a1 a2 | b0 b1 b2] it gives [a0 b0 a1 b1 a2 b2]. The downsampling
unit (stride 2) skips the split: both branches see the whole input, each halves the map, and
the channels double.

shufflenet_v2_x1_0: stages of 4, 8, 4 units with 116, 232, 464 channels, then a 1x1 conv to
1024 and global average pooling. Module names and state-dict keys are torchvision's
("stage3.0.branch1.2.weight"): 2,278,604 parameters.
"""
from __future__ import annotations

from .. import nn
from ..nn import functional as F
from .. import cat
from .pretrained import with_weights


class ChannelShuffle(nn.Module):
    """Interleave the channels of `groups` groups. (N, C, H, W) -> (N, C, H, W)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = int(groups)

    def forward(self, x):
        n, c, h, w = x.shape
        if c % self.groups:
            raise ValueError(f"ChannelShuffle(groups={self.groups}): {c} channels do not split "
                             f"into {self.groups} equal groups ({c}/{self.groups} = "
                             f"{c / self.groups:.3g})")
        x = x.reshape(n, self.groups, c // self.groups, h, w)
        return x.transpose(1, 2).reshape(n, c, h, w)

    def extra_repr(self):
        return f"groups={self.groups}"


def _depthwise(channels: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, kernel_size=3, stride=stride, padding=1,
                     groups=channels, bias=False)


class ShuffleV2Block(nn.Module):
    """One ShuffleNet v2 unit (torchvision calls it InvertedResidual).
    stride 1: (N, C, H, W) -> (N, C, H, W); stride 2: (N, C, H, W) -> (N, out, H/2, W/2)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"ShuffleV2Block: stride must be 1 or 2, got {stride}")
        branch = out_channels // 2
        if stride == 1 and in_channels != 2 * branch:
            raise ValueError(f"ShuffleV2Block: with stride 1 the input is split in two "
                             f"halves of {branch} channels, so in_channels must be "
                             f"{2 * branch}, got {in_channels}")
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise(in_channels, stride),
                nn.BatchNorm2d(in_channels),
                nn.Conv2d(in_channels, branch, kernel_size=1, bias=False),
                nn.BatchNorm2d(branch),
                nn.ReLU(),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_channels if stride > 1 else branch, branch, kernel_size=1, bias=False),
            nn.BatchNorm2d(branch),
            nn.ReLU(),
            _depthwise(branch, stride),
            nn.BatchNorm2d(branch),
            nn.Conv2d(branch, branch, kernel_size=1, bias=False),
            nn.BatchNorm2d(branch),
            nn.ReLU(),
        )
        self.shuffle = ChannelShuffle(2)

    def forward(self, x):
        if self.stride == 1:
            kept, transformed = x.chunk(2, dim=1)
            out = cat([kept, self.branch2(transformed)], dim=1)
        else:
            out = cat([self.branch1(x), self.branch2(x)], dim=1)
        return self.shuffle(out)

    def receptive_paths(self):
        """The two branches (with stride 1 the first passes its half through)."""
        return [[self.branch1] if self.stride > 1 else [], [self.branch2]]


class ShuffleNetV2(nn.Module):
    """(N, 3, H, W) -> (N, num_classes), any H, W (224 in the paper)."""

    def __init__(self, stages_repeats=(4, 8, 4), stages_out_channels=(24, 116, 232, 464, 1024),
                 num_classes: int = 1000):
        super().__init__()
        if len(stages_repeats) != 3 or len(stages_out_channels) != 5:
            raise ValueError(f"ShuffleNetV2: expected 3 stage repeats and 5 channel counts, got "
                             f"{list(stages_repeats)} and {list(stages_out_channels)}")
        channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, channels, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, (repeats, out_channels) in enumerate(zip(stages_repeats,
                                                        stages_out_channels[1:4])):
            blocks = [ShuffleV2Block(channels, out_channels, 2)]
            blocks += [ShuffleV2Block(out_channels, out_channels, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{i + 2}", nn.Sequential(*blocks))
            channels = out_channels
        self.conv5 = nn.Sequential(
            nn.Conv2d(channels, stages_out_channels[-1], kernel_size=1, bias=False),
            nn.BatchNorm2d(stages_out_channels[-1]),
            nn.ReLU(),
        )
        self.fc = nn.Linear(stages_out_channels[-1], num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        x = self.conv5(x)
        return self.fc(F.adaptive_avg_pool2d(x, (1, 1)).flatten(1))


@with_weights("shufflenet_v2_x1_0")
def shufflenet_v2_x1_0(num_classes: int = 1000, **kwargs) -> ShuffleNetV2:
    """ShuffleNet v2 1.0x: 2,278,604 parameters."""
    return ShuffleNetV2((4, 8, 4), (24, 116, 232, 464, 1024), num_classes=num_classes, **kwargs)
