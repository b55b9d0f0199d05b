"""PyTorch twins of the Fast R-CNN head, for the live comparisons in tests/test_fast_rcnn.py.

torchvision cannot be installed here, so its pieces are rebuilt with torch from their
documented semantics: torchvision.ops.roi_pool (box rounded half away from zero, roi size
max(end - start + 1, 1), bins [floor(p * size / P), ceil((p + 1) * size / P)) clipped to the
map, an empty bin gives 0), TwoMLPHead and FastRCNNPredictor with torchvision's module names
(so the state dicts line up), and fastrcnn_loss as torchvision's roi_heads computes it, with
the smooth-L1 beta left as an argument. The RoI pool is a loop of torch.amax over slices, so
torch's autograd gives the reference gradients.

Import this module only after `pytest.importorskip("torch")`.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _c_round(v):
    return int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(-v + 0.5))


def roi_pool(features, rois, output_size, spatial_scale):
    """features (N, C, H, W), rois (K, 5) [batch, x1, y1, x2, y2] -> (K, C, PH, PW)."""
    ph_n, pw_n = output_size
    _, C, H, W = features.shape
    out = []
    for roi in rois.tolist():
        b = int(roi[0])
        x1, y1, x2, y2 = (_c_round(v * spatial_scale) for v in roi[1:])
        rw, rh = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
        bins = []
        for ph in range(ph_n):
            h0 = min(max(math.floor(ph * rh / ph_n) + y1, 0), H)
            h1 = min(max(math.ceil((ph + 1) * rh / ph_n) + y1, 0), H)
            for pw in range(pw_n):
                w0 = min(max(math.floor(pw * rw / pw_n) + x1, 0), W)
                w1 = min(max(math.ceil((pw + 1) * rw / pw_n) + x1, 0), W)
                if h1 <= h0 or w1 <= w0:
                    bins.append(features.new_zeros(C))
                else:
                    bins.append(torch.amax(features[b, :, h0:h1, w0:w1], dim=(1, 2)))
        out.append(torch.stack(bins, dim=1).reshape(C, ph_n, pw_n))
    return torch.stack(out)


class TwoMLPHead(nn.Module):
    def __init__(self, in_channels, representation_size):
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x):
        x = x.flatten(start_dim=1)
        return F.relu(self.fc7(F.relu(self.fc6(x))))


class FastRCNNPredictor(nn.Module):
    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)
        self.bbox_pred = nn.Linear(in_channels, num_classes * 4)

    def forward(self, x):
        x = x.flatten(start_dim=1)
        return self.cls_score(x), self.bbox_pred(x)


def fastrcnn_loss(class_logits, box_regression, labels, regression_targets, beta):
    """torchvision.models.detection.roi_heads.fastrcnn_loss with smooth L1's beta given."""
    classification_loss = F.cross_entropy(class_logits, labels)
    pos = torch.where(labels > 0)[0]
    labels_pos = labels[pos]
    n, _ = class_logits.shape
    box_regression = box_regression.reshape(n, box_regression.size(-1) // 4, 4)
    box_loss = F.smooth_l1_loss(box_regression[pos, labels_pos], regression_targets[pos],
                                beta=beta, reduction="sum")
    return classification_loss, box_loss / labels.numel()
