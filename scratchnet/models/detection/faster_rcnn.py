"""Faster R-CNN (Ren, He, Girshick and Sun, NeurIPS 2015): Fast R-CNN whose region proposals
come from a Region Proposal Network on the same feature map, so the whole detector is one
network (torchvision's models.detection.faster_rcnn).

    model = faster_rcnn(num_classes=11)              # DigitScenes: background + 10 digits
    model.train(); losses = model(images, targets)   # the four losses below
    model.eval();  detections = model(images)        # [{"boxes", "scores", "labels"}, ...]

    images (N, C, H, W)
      -> backbone                        features (N, C', H/s, W/s)
      -> RegionProposalNetwork           proposals [(P_i, 4)]: anchors + 3x3 conv + two 1x1
                                         convs, decode, clip, NMS 0.7, top-N
      -> RoIHeads (the Fast R-CNN head)  RoI pool 7x7, two fc layers, K+1 scores and
                                         4 (K+1) box deltas; per-class NMS at test time

The four losses of CNN 응용 사례 (deck 000), summed for one backward pass:

1. loss_objectness   the RPN's "is there an object in this anchor" (binary cross-entropy)
2. loss_rpn_box_reg  the RPN's box regression from anchor to object (smooth L1, rough place)
3. loss_classifier   the detector's class of each sampled RoI (cross-entropy over K+1)
4. loss_box_reg      the detector's class-specific box refinement (smooth L1)

Training them together is the paper's "approximate joint training": the RPN's proposals
enter the RoI heads as constants (no gradient through their coordinates), while the shared
backbone receives the gradients of all four losses. The paper's alternative, 4-step
alternating training, trains the RPN and the detector in turn.
"""
from __future__ import annotations

import numpy as np

from ... import Tensor, nn
from .anchor_utils import AnchorGenerator
from .backbone import digit_scenes_backbone
from .roi_heads import RoIHeads, box_head_layers
from .rpn import RegionProposalNetwork, RPNHead


class FasterRCNN(nn.Module):
    """backbone -> RegionProposalNetwork -> RoIHeads (torchvision's GeneralizedRCNN).

    backbone: a module with `out_channels` (and `stride`, for RoI pooling's scale) mapping
    (N, C, H, W) -> (N, out_channels, H / stride, W / stride); rpn: RegionProposalNetwork;
    roi_heads: RoIHeads. forward(images, targets=None): in training mode the dict of the
    four losses, in eval mode one dict of NumPy arrays per image ("boxes" (K, 4) float32,
    "scores" (K,) float32, "labels" (K,) int64). After an eval call `last_proposals` holds
    the RPN's proposals of each image and `last_proposal_scores` their objectness.
    """

    def __init__(self, backbone, rpn, roi_heads):
        super().__init__()
        self.backbone = backbone
        self.rpn = rpn
        self.roi_heads = roi_heads
        self.last_proposals, self.last_proposal_scores = [], []

    def forward(self, images, targets=None):
        if self.training and targets is None:
            raise ValueError("FasterRCNN: in training mode the targets are needed (a list "
                             "of dicts with 'boxes' (K, 4) and 'labels' (K,), one per image)")
        if not isinstance(images, Tensor):
            images = Tensor(np.asarray(images, np.float32))
        if images.ndim != 4:
            raise ValueError(f"FasterRCNN: images must be (N, C, H, W), got shape "
                             f"{tuple(images.shape)}")
        if targets is not None and len(targets) != images.shape[0]:
            raise ValueError(f"FasterRCNN: {images.shape[0]} images but {len(targets)} "
                             f"targets")
        features = self.backbone(images)
        proposals, proposal_losses = self.rpn(images, features,
                                              targets if self.training else None)
        self.last_proposals, self.last_proposal_scores = proposals, self.rpn.last_scores
        shapes = [tuple(images.shape[-2:])] * images.shape[0]
        detections, detector_losses = self.roi_heads(features, proposals, shapes,
                                                     targets if self.training else None)
        if self.training:
            losses = dict(proposal_losses)
            losses.update(detector_losses)
            return losses
        return detections


def region_proposal_network(backbone, anchor_sizes=((8, 16, 32),),
                            aspect_ratios=((0.5, 1.0, 2.0),), two_class=False,
                            pre_nms_top_n_train=1000, pre_nms_top_n_test=600,
                            post_nms_top_n_train=300, post_nms_top_n_test=100, nms_thresh=0.7,
                            fg_iou_thresh=0.7, bg_iou_thresh=0.3, batch_size_per_image=256,
                            positive_fraction=0.5):
    """The RPN on `backbone`'s feature map, its anchors and head built from the settings
    faster_rcnn and mask_rcnn share (their rpn_* arguments, documented in faster_rcnn)."""
    anchors = AnchorGenerator(anchor_sizes, aspect_ratios)
    k = anchors.num_anchors_per_location()[0]
    return RegionProposalNetwork(
        anchors, RPNHead(backbone.out_channels, k, two_class=two_class),
        fg_iou_thresh=fg_iou_thresh, bg_iou_thresh=bg_iou_thresh,
        batch_size_per_image=batch_size_per_image, positive_fraction=positive_fraction,
        pre_nms_top_n={"training": pre_nms_top_n_train, "testing": pre_nms_top_n_test},
        post_nms_top_n={"training": post_nms_top_n_train, "testing": post_nms_top_n_test},
        nms_thresh=nms_thresh)


def roi_pool_layer(kind, output_size, spatial_scale, what):
    """The RoI feature layer a detector's setting `what` names: "pool" (RoI pooling, Fast
    R-CNN's rounding to whole cells) or "align" (RoIAlign, Mask R-CNN's, sampling_ratio 2,
    aligned=True: no rounding)."""
    if kind == "pool":
        return nn.RoIPool(output_size, spatial_scale)
    if kind == "align":
        return nn.RoIAlign(output_size, spatial_scale, sampling_ratio=2, aligned=True)
    raise ValueError(f"{what} must be 'pool' (RoI pooling, Fast R-CNN's) or 'align' "
                     f"(RoIAlign, Mask R-CNN's), got {kind!r}")


def faster_rcnn(num_classes=11, backbone=None, anchor_sizes=((8, 16, 32),),
                aspect_ratios=((0.5, 1.0, 2.0),), rpn_two_class=False,
                rpn_pre_nms_top_n_train=1000, rpn_pre_nms_top_n_test=600,
                rpn_post_nms_top_n_train=300, rpn_post_nms_top_n_test=100,
                rpn_nms_thresh=0.7, rpn_fg_iou_thresh=0.7, rpn_bg_iou_thresh=0.3,
                rpn_batch_size_per_image=256, rpn_positive_fraction=0.5, roi_pool="pool",
                roi_output_size=7, representation_size=256, box_score_thresh=0.05,
                box_nms_thresh=0.5, box_detections_per_img=100, box_fg_iou_thresh=0.5,
                box_bg_iou_thresh=0.5, box_batch_size_per_image=128,
                box_positive_fraction=0.25, box_loss_beta=1 / 9):
    """Faster R-CNN for 64x64 DigitScenes.

    Defaults: the stride-4 digit_scenes_backbone (64 channels, a 16x16 map); k = 9 anchors
    of sizes 8, 16, 32 and ratios 0.5, 1, 2 per cell (2,304 anchors); the paper's RPN
    settings (IoU 0.7 / 0.3, 256 anchors 1:1, NMS 0.7) with top-N scaled to our 2,304
    anchors (1,000 before NMS and 300 after in training, 600 and 100 at test, where the
    paper keeps 12,000 / 2,000 and 6,000 / 300 of about 20,000 anchors); the Fast R-CNN
    head on 7x7 RoI pooling ("align" for RoIAlign), 128 RoIs per image with 25% foreground,
    torchvision's beta = 1/9 for both smooth L1 losses and per-class NMS 0.5 at test time.
    rpn_two_class=True uses the paper's 2k-score RPN head (9 x (4 + 2) = 54 channels).
    The `scratchnet detect train faster_rcnn` recipe passes a stride-2 ConvBackbone(1,
    (16, 32)) instead (a 32x32 map, 9,216 anchors), which measured better on small digits."""
    backbone = backbone or digit_scenes_backbone()
    rpn = region_proposal_network(
        backbone, anchor_sizes, aspect_ratios, two_class=rpn_two_class,
        pre_nms_top_n_train=rpn_pre_nms_top_n_train, pre_nms_top_n_test=rpn_pre_nms_top_n_test,
        post_nms_top_n_train=rpn_post_nms_top_n_train,
        post_nms_top_n_test=rpn_post_nms_top_n_test, nms_thresh=rpn_nms_thresh,
        fg_iou_thresh=rpn_fg_iou_thresh, bg_iou_thresh=rpn_bg_iou_thresh,
        batch_size_per_image=rpn_batch_size_per_image, positive_fraction=rpn_positive_fraction)
    pool = roi_pool_layer(roi_pool, roi_output_size, backbone.spatial_scale,
                          "faster_rcnn: roi_pool")
    head, predictor = box_head_layers(backbone.out_channels, roi_output_size,
                                      representation_size, num_classes)
    heads = RoIHeads(pool, head, predictor, fg_iou_thresh=box_fg_iou_thresh,
                     bg_iou_thresh=box_bg_iou_thresh,
                     batch_size_per_image=box_batch_size_per_image,
                     positive_fraction=box_positive_fraction, score_thresh=box_score_thresh,
                     nms_thresh=box_nms_thresh, detections_per_img=box_detections_per_img,
                     box_loss_beta=box_loss_beta)
    return FasterRCNN(backbone, rpn, heads)
