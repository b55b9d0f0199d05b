"""SqueezeNet (Iandola et al., 2016): AlexNet's accuracy with 50x fewer parameters.

Its Fire module squeezes the channels with 1x1 convolutions, then expands them again with a
mix of 1x1 and 3x3 filters whose outputs are concatenated:

    x -> squeeze 1x1 (s channels), ReLU -> expand 1x1 (e1), ReLU  --\\
                                       -> expand 3x3 (e3), ReLU  ---> concat: e1 + e3 channels

With s much smaller than the input channels, the 3x3 filters see only s channels. There is no
fully connected layer: a 1x1 convolution to num_classes maps and a global average pool give
the logits. Version 1.1 starts with a 3x3 stem and pools earlier: 2.4x less computation, the
same accuracy.

Module names and state-dict keys are torchvision's ("features.3.expand3x3.weight",
"classifier.1.weight"): squeezenet1_0 1,248,424 and squeezenet1_1 1,235,496 parameters.
"""
from __future__ import annotations

from .. import nn
from ..nn import init
from .. import cat
from .pretrained import with_weights


class Fire(nn.Module):
    """squeeze 1x1 + ReLU, then expand 1x1 + ReLU and expand 3x3 + ReLU, concatenated.
    (N, C, H, W) -> (N, expand1x1_planes + expand3x3_planes, H, W)."""

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int,
                 expand3x3_planes: int):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return cat([self.expand1x1_activation(self.expand1x1(x)),
                    self.expand3x3_activation(self.expand3x3(x))], dim=1)

    def receptive_paths(self):
        """The two expand branches after the squeeze, for scratchnet.receptive_field."""
        return [[self.squeeze, self.expand1x1], [self.squeeze, self.expand3x3]]


class SqueezeNet(nn.Module):
    """(N, 3, H, W) -> (N, num_classes), H, W >= 29 (25 for version
    1.1; 224 in the paper)."""

    def __init__(self, version: str = "1_0", num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.num_classes = num_classes

        def pool():
            return nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)

        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, kernel_size=7, stride=2), nn.ReLU(), pool(),
                Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), pool(),
                Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256), pool(),
                Fire(512, 64, 256, 256),
            )
        elif version == "1_1":
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(), pool(),
                Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
                Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
                Fire(512, 64, 256, 256),
            )
        else:
            raise ValueError(f"SqueezeNet: version must be '1_0' or '1_1', got {version!r}")

        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), final_conv, nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    init.kaiming_uniform_(m.weight)
                init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.features(x)).flatten(1)


@with_weights("squeezenet1_0")
def squeezenet1_0(num_classes: int = 1000, **kwargs) -> SqueezeNet:
    """SqueezeNet 1.0: 1,248,424 parameters."""
    return SqueezeNet("1_0", num_classes=num_classes, **kwargs)


@with_weights("squeezenet1_1")
def squeezenet1_1(num_classes: int = 1000, **kwargs) -> SqueezeNet:
    """SqueezeNet 1.1: 1,235,496 parameters."""
    return SqueezeNet("1_1", num_classes=num_classes, **kwargs)
