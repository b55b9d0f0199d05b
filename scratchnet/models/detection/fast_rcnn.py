"""Fast R-CNN (Girshick, ICCV 2015): convolve the whole image once, RoI-pool each region
proposal from the shared feature map, and train classification and box regression together
with one multi-task loss.

    model = fast_rcnn(num_classes=11)                # DigitScenes: background + 10 digits
    model.train(); losses = model(images, targets)   # {"loss_classifier", "loss_box_reg"}
    model.eval();  detections = model(images)        # [{"boxes", "scores", "labels"}, ...]

    images (N, C, H, W) -> backbone -> features (N, C', H/s, W/s)
    proposals: proposer(image (C, H, W) ndarray) -> (L, 4) float32 xyxy, per image
    features, proposals -> RoIHeads (RoI pool 7x7, TwoMLPHead, FastRCNNPredictor)

Proposals come from outside the network, as in the paper: any callable works. The paper uses
selective search (~2,000 boxes per image); its section 5.5 also tries dense sliding-window
boxes. DenseWindows is that second kind, sized for 64x64 scenes: boxes of several heights
and aspect ratios slid with a step of a fraction of their size, the same boxes for every
image of one size.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from ... import Tensor, nn
from .backbone import digit_scenes_backbone
from .roi_heads import RoIHeads, box_head_layers


class DenseWindows:
    """Dense multi-scale sliding windows as region proposals.

    heights: num_sizes window heights spaced geometrically from min_size to max_size pixels;
    for each, widths height * r for r in ratios; windows slide by
    max(min_step, step * min(width, height)) pixels, the last one flush with the far edge.
    __call__(image (C, H, W)) -> (L, 4) float32 xyxy, depending only on H and W. The default
    gives 2,828 windows on a 64x64 scene, covering 91% of DigitScenes' digits at IoU >= 0.5
    (measured on 400 training scenes; the misses are mostly digits under 5 pixels).
    """

    def __init__(self, min_size=5.0, max_size=56.0, num_sizes=7, ratios=(0.45, 0.8),
                 step=0.5, min_step=3.0):
        if not 0 < min_size <= max_size or int(num_sizes) < 1:
            raise ValueError(f"DenseWindows: need 0 < min_size <= max_size and num_sizes >= "
                             f"1, got min_size {min_size}, max_size {max_size}, num_sizes "
                             f"{num_sizes}")
        if step <= 0 or min_step <= 0 or not ratios or min(ratios) <= 0:
            raise ValueError(f"DenseWindows: step, min_step and the ratios must be positive, "
                             f"got step {step}, min_step {min_step}, ratios {ratios}")
        self.heights = np.geomspace(float(min_size), float(max_size), int(num_sizes))
        self.ratios = tuple(float(r) for r in ratios)
        self.step, self.min_step = float(step), float(min_step)
        self._cache = {}

    def windows(self, height, width):
        """(L, 4) float32 windows inside a height x width image."""
        key = (int(height), int(width))
        if key not in self._cache:
            out = []
            for h in self.heights:
                for r in self.ratios:
                    w = max(2.0, h * r)
                    if h > height or w > width:
                        continue
                    stride = max(self.min_step, self.step * min(h, w))
                    ys = _positions(height - h, stride)
                    xs = _positions(width - w, stride)
                    y, x = np.meshgrid(ys, xs, indexing="ij")
                    x, y = x.ravel(), y.ravel()
                    out.append(np.stack([x, y, x + w, y + h], axis=1))
            self._cache[key] = (np.concatenate(out).astype(np.float32) if out
                                else np.zeros((0, 4), np.float32))
        return self._cache[key]

    def __call__(self, image):
        return self.windows(*np.asarray(image).shape[-2:])

    def __repr__(self):
        return (f"DenseWindows(heights {self.heights.round(1).tolist()}, ratios "
                f"{self.ratios}, step {self.step}, min_step {self.min_step})")


def _positions(span, stride):
    """0, stride, 2 stride, ... up to span, with span itself last."""
    p = np.arange(0.0, span + 1e-6, stride)
    return p if p[-1] >= span - 1e-6 else np.append(p, span)


class FastRCNN(nn.Module):
    """backbone + external proposals + RoIHeads; see the module docstring.

    proposer: callable image (C, H, W) ndarray -> (L, 4) xyxy; cache_proposals: remember
    the proposals of up to cache_size images (keyed by their pixels), since a proposer such
    as selective search costs seconds while it returns the same boxes every epoch."""

    def __init__(self, backbone, roi_heads, proposer, cache_proposals=True, cache_size=5000):
        super().__init__()
        self.backbone = backbone
        self.roi_heads = roi_heads
        self.proposer = proposer
        self.cache_proposals = bool(cache_proposals)
        self.cache_size = int(cache_size)
        self._proposal_cache = OrderedDict()

    def propose(self, image):
        """Proposals (L, 4) float32 of one image (C, H, W) ndarray."""
        if not self.cache_proposals:
            return self._run_proposer(image)
        key = hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest() + str(image.shape)
        if key in self._proposal_cache:
            self._proposal_cache.move_to_end(key)
            return self._proposal_cache[key]
        boxes = self._run_proposer(image)
        self._proposal_cache[key] = boxes
        if len(self._proposal_cache) > self.cache_size:
            self._proposal_cache.popitem(last=False)
        return boxes

    def _run_proposer(self, image):
        boxes = np.asarray(self.proposer(image), np.float32)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"FastRCNN: the proposer must return (L, 4) xyxy boxes, got "
                             f"shape {boxes.shape}")
        return boxes

    def forward(self, images, targets=None):
        if self.training and targets is None:
            raise ValueError("FastRCNN: in training mode the targets are needed (a list of "
                             "dicts with 'boxes' (K, 4) and 'labels' (K,), one per image)")
        if images.ndim != 4:
            raise ValueError(f"FastRCNN: images must be (N, C, H, W), got shape "
                             f"{tuple(images.shape)}")
        if targets is not None and len(targets) != images.shape[0]:
            raise ValueError(f"FastRCNN: {images.shape[0]} images but {len(targets)} targets")
        pixels = images.data if isinstance(images, Tensor) else np.asarray(images)
        proposals = [self.propose(im) for im in pixels]
        features = self.backbone(images)
        shapes = [tuple(images.shape[-2:])] * images.shape[0]
        detections, losses = self.roi_heads(features, proposals, shapes, targets)
        return losses if self.training else detections


def fast_rcnn(num_classes=11, backbone=None, proposer=None, roi_output_size=7,
              representation_size=256, batch_size_per_image=64, positive_fraction=0.25,
              fg_iou_thresh=0.5, bg_iou_thresh=0.5, bg_iou_thresh_lo=0.1, box_loss_beta=1.0,
              score_thresh=0.05, nms_thresh=0.3, detections_per_img=100, **kwargs):
    """Fast R-CNN for DigitScenes with the paper's training choices: 64 RoIs per image, 25%
    foreground at IoU >= 0.5, background at IoU in [0.1, 0.5), smooth L1 with beta 1,
    BoxCoder weights (10, 10, 5, 5); RoI pooling to 7x7 as on VGG-16. Defaults: the
    stride-4 digit_scenes_backbone and DenseWindows proposals. nms_thresh 0.3 is the
    paper's test-time NMS (torchvision uses 0.5)."""
    backbone = backbone or digit_scenes_backbone()
    proposer = proposer or DenseWindows()
    pool = nn.RoIPool(roi_output_size, backbone.spatial_scale)
    head, predictor = box_head_layers(backbone.out_channels, roi_output_size,
                                      representation_size, num_classes)
    heads = RoIHeads(pool, head, predictor, fg_iou_thresh=fg_iou_thresh,
                     bg_iou_thresh=bg_iou_thresh, batch_size_per_image=batch_size_per_image,
                     positive_fraction=positive_fraction, score_thresh=score_thresh,
                     nms_thresh=nms_thresh, detections_per_img=detections_per_img,
                     bg_iou_thresh_lo=bg_iou_thresh_lo, box_loss_beta=box_loss_beta)
    return FastRCNN(backbone, heads, proposer, **kwargs)
