"""VGG (Simonyan and Zisserman, 2014): only 3x3 convolutions, stacked.

Two stacked 3x3 convolutions see a 5x5 window (receptive field 5) with fewer weights than one
5x5: for 128 channels, 2 * 3*3*128*128 = 294,912 against 5*5*128*128 = 409,600 (deck 001), and
with a ReLU between them. Each stage doubles the channels (64 -> 512) and a 2x2 max pool halves
the map; five pools take 224 to 7.

The configurations are the paper's Table 1 columns ("M" is a max pool):

    A (vgg11)  64 M 128 M 256 256 M 512 512 M 512 512 M
    B (vgg13)  64 64 M 128 128 M 256 256 M 512 512 M 512 512 M
    D (vgg16)  64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M
    E (vgg19)  64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512 M

followed by fc 25088 -> 4096 -> 4096 -> num_classes with dropout 0.5. The `_bn` variants put a
BatchNorm2d after every convolution. Module names and state-dict keys are torchvision's
("features.0.weight", "classifier.6.bias"), as is the adaptive 7x7 average pool before the
classifier, which is the identity at 224x224 and lets 32x32 inputs through for quick tests.

Parameter counts: vgg11 132,863,336; vgg13 133,047,848; vgg16 138,357,544; vgg19 143,667,240
(the _bn variants add a weight and a bias per channel: 5,504 for A, 8,448 for D, 11,008 for E).
102,764,544 of VGG-16's parameters sit in fc6 alone.
"""
from __future__ import annotations

from .. import nn
from ..nn import init
from .pretrained import with_weights

CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(config, batch_norm: bool = False) -> nn.Sequential:
    """The convolutional part of a VGG column: [conv3x3 (+BN) + ReLU] or a 2x2 max pool per
    entry. (N, 3, H, W) -> (N, 512, H/32, W/32)."""
    layers = []
    in_channels = 3
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU())
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """(N, 3, H, W) -> (N, num_classes), H, W >= 32.

    `init_weights=False` skips torchvision's initialisation (He-normal convolutions, N(0, 0.01)
    linear layers) and keeps each layer's default one: about half the construction time when
    the weights are about to be overwritten by `load_state_dict` anyway.
    """

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    init.ones_(m.weight)
                    init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    init.normal_(m.weight, 0.0, 0.01)
                    init.zeros_(m.bias)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(config: str, batch_norm: bool, num_classes: int, **kwargs) -> VGG:
    return VGG(make_layers(CONFIGS[config], batch_norm), num_classes=num_classes, **kwargs)


@with_weights("vgg11")
def vgg11(num_classes: int = 1000, **kwargs) -> VGG:
    """VGG-11 (configuration A): 132,863,336 parameters."""
    return _vgg("A", False, num_classes, **kwargs)


@with_weights("vgg11_bn")
def vgg11_bn(num_classes: int = 1000, **kwargs) -> VGG:
    """VGG-11 with batch normalisation: 132,868,840 parameters."""
    return _vgg("A", True, num_classes, **kwargs)


@with_weights("vgg13")
def vgg13(num_classes: int = 1000, **kwargs) -> VGG:
    """VGG-13 (configuration B): 133,047,848 parameters."""
    return _vgg("B", False, num_classes, **kwargs)


@with_weights("vgg13_bn")
def vgg13_bn(num_classes: int = 1000, **kwargs) -> VGG:
    """VGG-13 with batch normalisation: 133,053,736 parameters."""
    return _vgg("B", True, num_classes, **kwargs)


@with_weights("vgg16")
def vgg16(num_classes: int = 1000, **kwargs) -> VGG:
    """VGG-16 (configuration D): 138,357,544 parameters."""
    return _vgg("D", False, num_classes, **kwargs)


@with_weights("vgg16_bn")
def vgg16_bn(num_classes: int = 1000, **kwargs) -> VGG:
    """VGG-16 with batch normalisation: 138,365,992 parameters."""
    return _vgg("D", True, num_classes, **kwargs)


@with_weights("vgg19")
def vgg19(num_classes: int = 1000, **kwargs) -> VGG:
    """VGG-19 (configuration E): 143,667,240 parameters."""
    return _vgg("E", False, num_classes, **kwargs)


@with_weights("vgg19_bn")
def vgg19_bn(num_classes: int = 1000, **kwargs) -> VGG:
    """VGG-19 with batch normalisation: 143,678,248 parameters."""
    return _vgg("E", True, num_classes, **kwargs)
