"""GoogLeNet, Inception v1 (Szegedy et al., 2014): 22 layers deep, yet 12x fewer parameters
than AlexNet, because of the Inception block (decks 001 and 004).

An Inception block runs four branches on the same input and concatenates their outputs along
the channels:

    x -> 1x1 conv ------------------------------> ch1x1    channels
    x -> 1x1 conv (reduce) -> 3x3 conv ----------> ch3x3
    x -> 1x1 conv (reduce) -> 5x5 conv ----------> ch5x5
    x -> 3x3 max pool (stride 1, pad 1) -> 1x1 --> pool_proj

Every branch keeps H x W (the padding and the stride-1 pool see to it), so the outputs stack.
The 1x1 "reduce" convolutions are what keep it cheap: inception3a's 5x5 branch reads 192
channels, but through 16 of them (192*16 + 16*5*5*32 = 15,872 weights instead of 192*5*5*32 =
153,600).

Every convolution is conv (no bias) + BatchNorm (eps 0.001) + ReLU, as in torchvision, whose
module names this model keeps ("inception4a.branch2.1.conv.weight"). One torchvision detail is
kept on purpose so that its weights load: the "5x5" branch has a 3x3 kernel (a known slip in
the port, fixed forever by the published weights). `googlenet(large_kernel=5)` builds the
paper's 5x5 instead.

Parameter count with torchvision's layout and no auxiliary classifiers: 6,624,904. The two
auxiliary classifiers (on inception4a and inception4d, used only in training, their losses
weighted 0.3 in the paper) add 6,379,984.
"""
from __future__ import annotations

from collections import namedtuple

from .. import nn
from ..nn import functional as F
from ..nn import init
from .. import cat
from .pretrained import with_weights

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
GoogLeNetOutputs.__doc__ = """What GoogLeNet returns in training mode with aux_logits=True."""


class BasicConv2d(nn.Module):
    """conv (no bias) -> BatchNorm -> ReLU. (N, C, H, W) -> (N, K, H', W')."""

    def __init__(self, in_channels: int, out_channels: int, **conv_kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class InceptionBlock(nn.Module):
    """Four parallel branches, concatenated.
    (N, C, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).

    `large_kernel` is the kernel of the third branch: 5 in the paper, 3 in torchvision.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int, large_kernel: int = 5):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=large_kernel, padding=large_kernel // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)

    def receptive_paths(self):
        """The four branches, for scratchnet.receptive_field."""
        return [[self.branch1], [self.branch2], [self.branch3], [self.branch4]]


Inception = InceptionBlock   # torchvision's name


class InceptionAux(nn.Module):
    """An auxiliary classifier: a shortcut for the gradient to the middle of the network.
    (N, C, H, W) -> average pool to 4x4 -> 1x1 conv 128 -> fc 1024 -> fc num_classes."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        # the paper's 5x5 / 3 average pool, which maps 14x14 to 4x4
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(self.dropout(x))

    def receptive_paths(self):
        # a side exit, not on the way from the input to the logits
        return []


class GoogLeNet(nn.Module):
    """(N, 3, H, W) -> (N, num_classes) logits, H, W >= 31 (224 in the paper).

    In training mode with aux_logits=True it returns GoogLeNetOutputs(logits, aux_logits2,
    aux_logits1) instead. `transform_input=True` maps ImageNet-normalised input to the [-1, 1]
    scaling that torchvision's pretrained GoogLeNet weights (ported from TensorFlow) expect.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False,
                 transform_input: bool = False, init_weights: bool = True,
                 dropout: float = 0.2, dropout_aux: float = 0.7, large_kernel: int = 3):
        super().__init__()
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        k = {"large_kernel": large_kernel}

        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        # the paper's Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
        self.inception3a = InceptionBlock(192, 64, 96, 128, 16, 32, 32, **k)
        self.inception3b = InceptionBlock(256, 128, 128, 192, 32, 96, 64, **k)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = InceptionBlock(480, 192, 96, 208, 16, 48, 64, **k)
        self.inception4b = InceptionBlock(512, 160, 112, 224, 24, 64, 64, **k)
        self.inception4c = InceptionBlock(512, 128, 128, 256, 24, 64, 64, **k)
        self.inception4d = InceptionBlock(512, 112, 144, 288, 32, 64, 64, **k)
        self.inception4e = InceptionBlock(528, 256, 160, 320, 32, 128, 128, **k)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = InceptionBlock(832, 256, 160, 320, 32, 128, 128, **k)
        self.inception5b = InceptionBlock(832, 384, 192, 384, 48, 128, 128, **k)

        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    init.ones_(m.weight)
                    init.zeros_(m.bias)

    def _transform_input(self, x):
        if not self.transform_input:
            return x
        # undo ImageNet's (x - mean) / std per channel, then scale to (x - 0.5) / 0.5
        mean = (0.485, 0.456, 0.406)
        std = (0.229, 0.224, 0.225)
        channels = [x[:, c:c + 1] * (std[c] / 0.5) + (mean[c] - 0.5) / 0.5 for c in range(3)]
        return cat(channels, dim=1)

    def forward(self, x):
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))                 # 224 -> 112 -> 56
        x = self.maxpool2(self.conv3(self.conv2(x)))     # 56 -> 28
        x = self.inception3b(self.inception3a(x))
        x = self.maxpool3(x)                             # 28 -> 14
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))           # 14 -> 7
        x = self.inception5b(self.inception5a(x))
        x = self.dropout(self.avgpool(x).flatten(1))
        x = self.fc(x)
        if aux1 is not None:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


@with_weights("googlenet")
def googlenet(num_classes: int = 1000, **kwargs) -> GoogLeNet:
    """GoogLeNet (Inception v1), torchvision's layout: 6,624,904 parameters without the
    auxiliary classifiers (aux_logits=True adds them: 13,004,888)."""
    return GoogLeNet(num_classes=num_classes, **kwargs)
