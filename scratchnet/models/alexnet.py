"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012), two ways.

`alexnet_paper` is the network of the paper, which deck 001 counts layer by layer. It was
split over two GPUs: conv2, conv4 and conv5 only see the 48/128/192 channels on their own GPU
(two groups), while conv3 and the fully connected layers read both halves.

    layer   filters       size / stride    groups  output          weights
    input                                          227 x 227 x 3
    conv1   96            11x11 / 4        1       55 x 55 x 96        34,848
    LRN, max pool 3x3 / 2 (overlapping)            27 x 27 x 96
    conv2   256           5x5, pad 2       2       27 x 27 x 256      307,200
    LRN, max pool 3x3 / 2                          13 x 13 x 256
    conv3   384           3x3, pad 1       1       13 x 13 x 384      884,736
    conv4   384           3x3, pad 1       2       13 x 13 x 384      663,552
    conv5   256           3x3, pad 1       2       13 x 13 x 256      442,368
    max pool 3x3 / 2                               6 x 6 x 256
    fc6     4096 (dropout 0.5)                                     37,748,736
    fc7     4096 (dropout 0.5)                                     16,777,216
    fc8     1000                                                    4,096,000

60,965,224 parameters with the biases. fc6 reads the 6 x 6 x 256 = 9,216 features of the last
pooling, not the 13 x 13 maps before it (deck 001's fc6 figure uses 13 x 13 and overcounts).
The paper says 224 x 224 input, but (224 - 11)/4 + 1 = 54.25 does not tile; 227 gives 55.

`alexnet` is torchvision's single-stream variant (from "One weird trick", Krizhevsky 2014): 64,
192, 384, 256, 256 filters, no LRN, no groups, and an adaptive average pool to 6 x 6 so any
input of at least 63 x 63 works. Its state-dict keys are torchvision's: 61,100,840 parameters.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from .pretrained import with_weights


class AlexNet(nn.Module):
    """torchvision's AlexNet. (N, 3, H, W) -> (N, num_classes), H, W >= 63."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


class AlexNetPaper(nn.Module):
    """The 2012 paper's AlexNet. (N, 3, 227, 227) -> (N, num_classes).

    Local response normalisation: the paper divides by (k + alpha * sum of squares)^beta with
    k=2, n=5, alpha=1e-4, beta=0.75. `nn.LocalResponseNorm`, like PyTorch's, divides alpha by
    the window size n, so the paper's alpha is passed as 5 * 1e-4.
    """

    input_size = (3, 227, 227)

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()

        def lrn():
            return nn.LocalResponseNorm(size=5, alpha=5 * 1e-4, beta=0.75, k=2.0)

        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 96, kernel_size=11, stride=4)),
            ("relu1", nn.ReLU()),
            ("norm1", lrn()),
            ("pool1", nn.MaxPool2d(kernel_size=3, stride=2)),
            ("conv2", nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2)),
            ("relu2", nn.ReLU()),
            ("norm2", lrn()),
            ("pool2", nn.MaxPool2d(kernel_size=3, stride=2)),
            ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)),
            ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2)),
            ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2)),
            ("relu5", nn.ReLU()),
            ("pool5", nn.MaxPool2d(kernel_size=3, stride=2)),
        ]))
        # dropout follows fc6 and fc7, as in the paper ("the first two fully-connected layers")
        self.classifier = paper_classifier(num_classes, dropout)

    def forward(self, x):
        features = self.features(x)
        if tuple(features.shape[1:]) != (256, 6, 6):
            raise ValueError(
                f"AlexNetPaper expects (N, 3, 227, 227) images, got {tuple(x.shape)}: fc6 needs "
                f"6x6x256 features after pool5, this input gives "
                f"{'x'.join(map(str, features.shape[2:]))}x{features.shape[1]}. (227 - 11)/4 + 1 "
                f"= 55 -> pool 27 -> pool 13 -> pool 6; use alexnet() for other sizes")
        return self.classifier(features.flatten(1))


def paper_classifier(num_classes: int, dropout: float) -> nn.Sequential:
    """fc6-fc7-fc8 on 6x6x256 features, dropout after fc6 and fc7 (AlexNet paper, ZFNet)."""
    return nn.Sequential(OrderedDict([
        ("fc6", nn.Linear(256 * 6 * 6, 4096)),
        ("relu6", nn.ReLU()),
        ("drop6", nn.Dropout(p=dropout)),
        ("fc7", nn.Linear(4096, 4096)),
        ("relu7", nn.ReLU()),
        ("drop7", nn.Dropout(p=dropout)),
        ("fc8", nn.Linear(4096, num_classes)),
    ]))


@with_weights("alexnet")
def alexnet(num_classes: int = 1000, **kwargs) -> AlexNet:
    """torchvision's single-stream AlexNet: 61,100,840 parameters."""
    return AlexNet(num_classes=num_classes, **kwargs)


def alexnet_paper(num_classes: int = 1000, **kwargs) -> AlexNetPaper:
    """The 2012 paper's two-group AlexNet with LRN, 227x227 input: 60,965,224 parameters."""
    return AlexNetPaper(num_classes=num_classes, **kwargs)
