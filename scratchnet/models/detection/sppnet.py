"""SPPNet detection (He et al., "Spatial Pyramid Pooling in Deep Convolutional Networks for
Visual Recognition", ECCV 2014): convolve the image once, then pool each proposal's window of
the conv5 map into a fixed-length vector with a spatial pyramid.

    image (C, H, W) --resize by image_scale--> (C, sH, sW) --conv trunk, once--> (D, sH/4, sW/4)
      --per proposal: spatial pyramid pooling of its window--> (K, D * sum(n*n))
      --fc6, fc7--> (K, 256) --SVMs, box regression, per-class NMS as R-CNN--> detections

The paper's training is R-CNN's stages with the conv layers frozen: the conv layers come from
a pre-trained network (ImageNet classification in the paper; here the trunk of a RegionCNN
fine-tuned on warped DigitScenes regions) and are never updated, only fc6, fc7 and the softmax
are fine-tuned on pooled window features, then SVMs on fc7 and box regressors on the pooled
features. Pooling at a map position gets no gradient into the trunk here by design, as in the
paper; Fast R-CNN is the step that trains through the RoI pooling.

Scale: the trunk learned digits warped to about 28 pixels; the image is resized by
image_scale = 2 before the trunk (DigitScenes' digits are 4 to 51 pixels, about 14 on a
log scale), the paper's single-scale s = 688 playing the same part. Levels: (4, 2, 1), 21 bins
per channel, because a window on this 32 x 32 map is 1 to 26 map pixels wide; the paper used
(6, 3, 2, 1) on 13 x 13 and larger conv5 maps. Bins follow roi_pool (adaptive bins on the
rounded window; scratchnet.ops.spp explains the choice).
"""
from __future__ import annotations

import numpy as np

from ... import Tensor, nn, no_grad
from ...nn import functional as F
from .backbone import digit_scenes_backbone
from .rcnn import RegionDetector, _np


class SPPNet(RegionDetector):
    """SPPNet(trunk=None, proposer=None, num_classes=11, levels=(4, 2, 1), image_scale=2.0)

    trunk: a conv backbone (N, C, H, W) -> (N, out_channels, H/stride, W/stride) with
    `out_channels` and `stride` attributes (digit_scenes_backbone), frozen: its weights get
    no gradient and its BatchNorm stays in eval mode (default: a fresh backbone;
    scratchnet.detection.sppnet gives it a trained one)."""

    def __init__(self, trunk=None, proposer=None, num_classes: int = 11, in_channels: int = 1,
                 levels=(4, 2, 1), image_scale: float = 2.0, hidden: int = 256, **kwargs):
        trunk = trunk if trunk is not None else digit_scenes_backbone(in_channels)
        self_levels = tuple(int(n) for n in levels)
        trunk_stride = int(trunk.stride)
        pool_dim = trunk.out_channels * sum(n * n for n in self_levels)
        super().__init__(proposer, num_classes, hidden, pool_dim, **kwargs)
        self.features = trunk
        self.features.requires_grad_(False)
        self.levels = self_levels
        self.image_scale = float(image_scale)
        self.trunk_stride = int(trunk_stride)
        self.spp = nn.SpatialPyramidPooling(self_levels,
                                            spatial_scale=self.image_scale / self.trunk_stride)
        self.fc = nn.Sequential(nn.Linear(pool_dim, hidden), nn.ReLU(),
                                nn.Linear(hidden, hidden), nn.ReLU())
        self.classifier = nn.Linear(hidden, num_classes)

    def train(self, mode: bool = True):
        super().train(mode)
        self.features.eval()     # frozen: BatchNorm keeps its running statistics
        return self

    def conv_map(self, image):
        """The one convolution of an image (C, H, W): (1, D, sH/stride, sW/stride), no
        gradient (the trunk is frozen)."""
        img = np.asarray(_np(image), np.float32)[None]
        with no_grad():
            x = Tensor(img)
            if self.image_scale != 1.0:
                x = F.interpolate(x, scale_factor=self.image_scale, mode="bilinear",
                                  align_corners=False)
            return self.features(x)

    def pool_windows(self, fmap, boxes):
        """Each box's window of the conv map (1, D, h, w) pooled into the pyramid:
        (K, D * sum(n*n)). Boxes are in the original image's pixels."""
        with no_grad():
            return self.spp(fmap, [np.asarray(boxes, np.float32).reshape(-1, 4)])

    def region_features(self, image, boxes):
        pooled = self.pool_windows(self.conv_map(image), boxes)
        return pooled, self.fc(pooled)

    def classify(self, fc7):
        return self.classifier(fc7)


__all__ = ["SPPNet"]
