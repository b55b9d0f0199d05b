"""ZFNet (Zeiler and Fergus, 2013), the ILSVRC 2013 winner: AlexNet retuned after looking at
what its layers had learned (deck 004's ImageNet history).

The changes from AlexNet, from the paper's Figure 3: conv1 uses 7x7 filters with stride 2
instead of 11x11 with stride 4 (the large stride had left aliasing artefacts in the layer-2
features), conv3-5 have 384, 384, 256 filters, and everything runs on one GPU (no groups).

    layer   filters   size / stride      output          parameters
    input                                224 x 224 x 3
    conv1   96        7x7 / 2, pad 1     110 x 110 x 96      14,208
    max pool 3x3 / 2, LRN                55 x 55 x 96
    conv2   256       5x5 / 2            26 x 26 x 256      614,656
    max pool 3x3 / 2, LRN                13 x 13 x 256
    conv3   384       3x3, pad 1         13 x 13 x 384      885,120
    conv4   384       3x3, pad 1         13 x 13 x 384    1,327,488
    conv5   256       3x3, pad 1         13 x 13 x 256      884,992
    max pool 3x3 / 2                     6 x 6 x 256
    fc6     4096, fc7 4096 (dropout 0.5), fc8 num_classes

The figure's sizes 110 -> 55 and 26 -> 13 come from pooling that rounds up (Caffe's rule,
`ceil_mode=True` here): floor((110 - 3)/2) + 1 = 54, but ceil((110 - 3)/2) + 1 = 55.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from .alexnet import paper_classifier


class ZFNet(nn.Module):
    """(N, 3, 224, 224) -> (N, num_classes)."""

    input_size = (3, 224, 224)

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()

        def lrn():
            # "contrast normalised across feature maps", with AlexNet's settings
            return nn.LocalResponseNorm(size=5, alpha=5 * 1e-4, beta=0.75, k=2.0)

        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 96, kernel_size=7, stride=2, padding=1)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)),
            ("norm1", lrn()),
            ("conv2", nn.Conv2d(96, 256, kernel_size=5, stride=2)),
            ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)),
            ("norm2", lrn()),
            ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)),
            ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1)),
            ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1)),
            ("relu5", nn.ReLU()),
            ("pool5", nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)),
        ]))
        self.classifier = paper_classifier(num_classes, dropout)

    def forward(self, x):
        features = self.features(x)
        if tuple(features.shape[1:]) != (256, 6, 6):
            raise ValueError(
                f"ZFNet expects (N, 3, 224, 224) images, got {tuple(x.shape)}: fc6 needs "
                f"6x6x256 features after pool5, this input gives "
                f"{'x'.join(map(str, features.shape[2:]))}x{features.shape[1]} "
                f"(224 -> conv1 110 -> pool 55 -> conv2 26 -> pool 13 -> pool 6)")
        return self.classifier(features.flatten(1))


def zfnet(num_classes: int = 1000, **kwargs) -> ZFNet:
    """ZFNet for 224x224 images: 62,357,608 parameters."""
    return ZFNet(num_classes=num_classes, **kwargs)
