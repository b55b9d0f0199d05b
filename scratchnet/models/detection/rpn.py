"""The Region Proposal Network of Faster R-CNN (Ren, He, Girshick and Sun, NeurIPS 2015),
torchvision's `models.detection.rpn` semantics.

Fast R-CNN still takes its regions from selective search, which runs on the CPU and costs
seconds per image: "the region proposal algorithm is now the bottleneck" (CNN 응용 사례, deck
000). The RPN instead predicts the regions from the same feature map the detector uses:

    features (N, C, H, W)
      -> 3x3 conv + ReLU                      (N, C, H, W)
      -> 1x1 conv: objectness per anchor      (N, k, H, W)    [or 2k, see below]
      -> 1x1 conv: box deltas per anchor      (N, 4k, H, W)
    anchors (H W k, 4) + deltas  --decode-->  boxes, clipped, tiny ones dropped,
    top pre_nms_top_n by objectness  --NMS 0.7-->  top post_nms_top_n = the proposals

k scores or 2k? The paper's cls layer outputs 2k scores, "object" and "not object" for each
anchor, turned into a probability by a two-way softmax: that is the 9 x (4 + 2) = 54 channels
of the decks (Day13. CNN and Vision, deck 001). A two-way softmax carries one number's worth of
information, softmax(s_bg, s_fg)[fg] = sigmoid(s_fg - s_bg), so the paper also mentions the
k-score logistic version, which torchvision implements: k sigmoid logits and binary
cross-entropy, 9 x (4 + 1) = 45 channels. `RPNHead(two_class=False)` is torchvision's (the
default); `RPNHead(two_class=True)` is the paper's 2k-score layer, trained with a two-way
cross-entropy, which for one anchor equals binary cross-entropy on s_fg - s_bg.

Training labels anchors (`assign_targets_to_anchors`): IoU >= 0.7 with some object is
positive, IoU < 0.3 with every object negative, the rest ignored, and the anchor(s) with the
highest IoU for each object positive too (so that every object has one); 256 anchors per
image are sampled, up to half of them positive. The two RPN losses of deck 000's four: binary
cross-entropy on the sampled anchors' objectness, smooth L1 (beta = 1/9, torchvision's) on the
positive anchors' box deltas, divided by the number of sampled anchors.

Approximate joint training: the proposals are decoded from the deltas *detached*, so the
detector's losses do not flow back through the proposal coordinates (the paper's
"approximate joint training"; the exact version would need the gradient of RoI pooling
with respect to the box, which the paper leaves out too).
"""
from __future__ import annotations

import numpy as np

from ... import Tensor, cat, nn, no_grad
from ...nn import functional as F
from ...nn import init
from ...ops import boxes as box_ops
from ._utils import BalancedPositiveNegativeSampler, Matcher
from .anchor_utils import AnchorGenerator


class RPNHead(nn.Module):
    """The RPN's small network, slid over the feature map as convolutions.

    in_channels: C of the feature map; num_anchors: k per location (9 by default);
    two_class: False gives torchvision's k objectness logits (sigmoid), True the paper's 2k
    scores (background, object) per anchor (two-way softmax).

    forward(x) with x a Tensor (N, C, H, W) -> (objectness (N, k or 2k, H, W),
    box deltas (N, 4k, H, W)); with x a list of feature maps -> (list, list), one entry per
    map (torchvision's form). For a two-class head channel 2a is anchor a's background score
    and 2a + 1 its object score; box channels 4a..4a+3 are anchor a's (t_x, t_y, t_w, t_h).
    Weights start as N(0, 0.01^2), biases 0, as in the paper and torchvision.
    """

    def __init__(self, in_channels: int, num_anchors: int = 9, two_class: bool = False):
        super().__init__()
        self.num_anchors = int(num_anchors)
        self.two_class = bool(two_class)
        self.conv = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        scores = 2 * self.num_anchors if self.two_class else self.num_anchors
        self.cls_logits = nn.Conv2d(in_channels, scores, 1)
        self.bbox_pred = nn.Conv2d(in_channels, 4 * self.num_anchors, 1)
        for layer in (self.conv, self.cls_logits, self.bbox_pred):
            init.normal_(layer.weight, std=0.01)
            init.constant_(layer.bias, 0.0)

    @property
    def out_channels(self) -> int:
        """Output channels of the two 1x1 convolutions together: k (4 + 2) for the paper's
        head (54 for k = 9), k (4 + 1) for torchvision's."""
        return self.cls_logits.out_channels + self.bbox_pred.out_channels

    def forward(self, x):
        if isinstance(x, Tensor):
            t = F.relu(self.conv(x))
            return self.cls_logits(t), self.bbox_pred(t)
        logits, deltas = [], []
        for feature in x:
            t = F.relu(self.conv(feature))
            logits.append(self.cls_logits(t))
            deltas.append(self.bbox_pred(t))
        return logits, deltas


def permute_and_flatten(layer, N, A, C, H, W):
    """(N, A*C, H, W) -> (N, H*W*A, C): the anchors' order of AnchorGenerator (cell by cell,
    row-major, k anchors per cell)."""
    return layer.reshape(N, A, C, H, W).permute(0, 3, 4, 1, 2).reshape(N, H * W * A, C)


def concat_box_prediction_layers(box_cls, box_regression, scores_per_anchor=1):
    """Lists over feature maps of (N, A*s, H, W) scores and (N, A*4, H, W) deltas ->
    (N * sum(H W A), s) scores and (N * sum(H W A), 4) deltas, image by image, in the
    anchors' order. s is 1 for sigmoid objectness, 2 for the two-class head."""
    flat_cls, flat_reg = [], []
    for cls_l, reg_l in zip(box_cls, box_regression):
        N, AxC, H, W = cls_l.shape
        A = reg_l.shape[1] // 4
        if AxC != A * scores_per_anchor:
            raise ValueError(f"RPN: the objectness map has {AxC} channels but the box map "
                             f"{reg_l.shape[1]} = 4 x {A} anchors; expected "
                             f"{scores_per_anchor} x {A} = {scores_per_anchor * A}")
        flat_cls.append(permute_and_flatten(cls_l, N, A, scores_per_anchor, H, W))
        flat_reg.append(permute_and_flatten(reg_l, N, A, 4, H, W))
    box_cls = cat(flat_cls, axis=1).reshape(-1, scores_per_anchor)
    box_regression = cat(flat_reg, axis=1).reshape(-1, 4)
    return box_cls, box_regression


def _array(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class RegionProposalNetwork(nn.Module):
    """Anchors + RPNHead + proposal layer (+ losses when training).

    anchor_generator:   AnchorGenerator (k anchors per location)
    head:               RPNHead with the same k
    fg_iou_thresh:      anchors with IoU >= this with an object are positive (0.7)
    bg_iou_thresh:      anchors with IoU < this with every object are negative (0.3)
    batch_size_per_image, positive_fraction: anchors sampled per image for the losses
                        (256, 0.5: "up to 1:1")
    pre_nms_top_n:      dict(training=, testing=): best-scored anchors kept per feature map
                        before NMS
    post_nms_top_n:     dict(training=, testing=): proposals kept per image after NMS
    nms_thresh:         IoU above which a lower-scored proposal is suppressed (0.7)
    score_thresh:       proposals with objectness probability below this are dropped (0)
    min_size:           proposals narrower or lower than this (pixels) are dropped

    forward(images (N, C, H, W), features Tensor (N, C', H', W') or list of them,
    targets=None) -> (proposals: list of N float32 arrays (P_i, 4) xyxy, best first;
    losses: {"loss_objectness", "loss_rpn_box_reg"} in training mode, else {}).
    After a call, `last_scores` holds each image's proposal probabilities (P_i,).
    """

    def __init__(self, anchor_generator, head, fg_iou_thresh=0.7, bg_iou_thresh=0.3,
                 batch_size_per_image=256, positive_fraction=0.5, pre_nms_top_n=None,
                 post_nms_top_n=None, nms_thresh=0.7, score_thresh=0.0, min_size=1e-3):
        super().__init__()
        k = anchor_generator.num_anchors_per_location()
        if any(a != head.num_anchors for a in k):
            raise ValueError(f"RegionProposalNetwork: the anchor generator gives {k} anchors "
                             f"per location but the head predicts {head.num_anchors}")
        self.anchor_generator = anchor_generator
        self.head = head
        self.box_coder = box_ops.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self.proposal_matcher = Matcher(fg_iou_thresh, bg_iou_thresh,
                                        allow_low_quality_matches=True)
        self.fg_bg_sampler = BalancedPositiveNegativeSampler(batch_size_per_image,
                                                             positive_fraction)
        self._pre_nms_top_n = dict(pre_nms_top_n or {"training": 2000, "testing": 1000})
        self._post_nms_top_n = dict(post_nms_top_n or {"training": 2000, "testing": 1000})
        self.nms_thresh = float(nms_thresh)
        self.score_thresh = float(score_thresh)
        self.min_size = float(min_size)
        self.last_scores = []

    def pre_nms_top_n(self):
        return self._pre_nms_top_n["training" if self.training else "testing"]

    def post_nms_top_n(self):
        return self._post_nms_top_n["training" if self.training else "testing"]

    def assign_targets_to_anchors(self, anchors, targets):
        """Per image: labels (A,) float32, 1 object / 0 background / -1 ignored, and the
        matched object's box (A, 4) for each anchor (any box for background anchors: their
        box loss is never computed)."""
        labels, matched_gt_boxes = [], []
        for anchors_per_image, target in zip(anchors, targets):
            gt_boxes = _array(target["boxes"]).astype(np.float32).reshape(-1, 4)
            if len(gt_boxes) == 0:
                # no object: every anchor is background (the anchor itself as its "box"
                # keeps the unused regression targets finite)
                matched_gt_boxes.append(np.asarray(anchors_per_image, np.float32).copy())
                labels.append(np.zeros(len(anchors_per_image), np.float32))
                continue
            quality = box_ops.box_iou(gt_boxes, anchors_per_image)
            matched_idxs = self.proposal_matcher(quality)
            matched_gt_boxes.append(gt_boxes[np.clip(matched_idxs, 0, None)])
            lab = (matched_idxs >= 0).astype(np.float32)
            lab[matched_idxs == Matcher.BELOW_LOW_THRESHOLD] = 0.0
            lab[matched_idxs == Matcher.BETWEEN_THRESHOLDS] = -1.0
            labels.append(lab)
        return labels, matched_gt_boxes

    def _get_top_n_idx(self, objectness, num_anchors_per_level):
        """objectness (N, A) ndarray -> (N, sum_l min(pre_nms_top_n, A_l)) indices of the
        best-scored anchors of each feature map (descending; ties in anchor order)."""
        out, offset = [], 0
        for n in num_anchors_per_level:
            level = objectness[:, offset:offset + n]
            top = min(self.pre_nms_top_n(), n)
            idx = np.argsort(-level, axis=1, kind="stable")[:, :top]
            out.append(idx + offset)
            offset += n
        return np.concatenate(out, axis=1)

    def filter_proposals(self, proposals, objectness, image_shapes, num_anchors_per_level):
        """The proposal layer. proposals (N, A, 4) decoded boxes, objectness (N, A) logits
        (ndarrays) -> (boxes list of (P_i, 4), scores list of (P_i,) probabilities)."""
        num_images = proposals.shape[0]
        levels = np.concatenate([np.full(n, i, np.int64)
                                 for i, n in enumerate(num_anchors_per_level)])
        top_n_idx = self._get_top_n_idx(objectness, num_anchors_per_level)
        batch_idx = np.arange(num_images)[:, None]
        objectness = objectness[batch_idx, top_n_idx]
        levels = levels[top_n_idx]
        proposals = proposals[batch_idx, top_n_idx]
        prob = 1.0 / (1.0 + np.exp(-objectness.astype(np.float64)))
        final_boxes, final_scores = [], []
        for boxes, scores, lvl, shape in zip(proposals, prob, levels, image_shapes):
            boxes = box_ops.clip_boxes_to_image(boxes, shape)
            keep = box_ops.remove_small_boxes(boxes, self.min_size)
            boxes, scores, lvl = boxes[keep], scores[keep], lvl[keep]
            keep = np.flatnonzero(scores >= self.score_thresh)
            boxes, scores, lvl = boxes[keep], scores[keep], lvl[keep]
            keep = box_ops.batched_nms(boxes, scores, lvl, self.nms_thresh)
            keep = keep[:self.post_nms_top_n()]
            final_boxes.append(np.ascontiguousarray(boxes[keep], np.float32))
            final_scores.append(scores[keep].astype(np.float32))
        return final_boxes, final_scores

    def compute_loss(self, objectness, pred_bbox_deltas, labels, regression_targets):
        """objectness (A_total, 1 or 2) Tensor, pred_bbox_deltas (A_total, 4) Tensor,
        labels / regression_targets: per-image lists -> (loss_objectness, loss_rpn_box_reg).

        loss_objectness: binary cross-entropy (mean) over the sampled anchors (two-way
        cross-entropy for the two-class head); loss_rpn_box_reg: smooth L1 (beta 1/9,
        summed) over the sampled positives, divided by the number of sampled anchors."""
        pos_masks, neg_masks = self.fg_bg_sampler(labels)
        pos = np.flatnonzero(np.concatenate(pos_masks))
        neg = np.flatnonzero(np.concatenate(neg_masks))
        sampled = np.concatenate([pos, neg])
        labels = np.concatenate(labels)
        regression_targets = np.concatenate(regression_targets).astype(
            pred_bbox_deltas.dtype)
        box_loss = F.smooth_l1_loss(pred_bbox_deltas[pos], regression_targets[pos],
                                    beta=1 / 9, reduction="sum") / max(sampled.size, 1)
        if objectness.shape[1] == 2:
            objectness_loss = F.cross_entropy(objectness[sampled],
                                              labels[sampled].astype(np.int64))
        else:
            objectness_loss = F.binary_cross_entropy_with_logits(
                objectness.reshape(-1)[sampled], labels[sampled].astype(objectness.dtype))
        return objectness_loss, box_loss

    def forward(self, images, features, targets=None):
        if isinstance(features, Tensor):
            features = [features]
        elif isinstance(features, dict):
            features = list(features.values())
        objectness, pred_bbox_deltas = self.head(features)
        anchors = self.anchor_generator(images, features)
        num_images = len(anchors)
        num_anchors_per_level = [o.shape[1] * o.shape[2] * o.shape[3] //
                                 (2 if self.head.two_class else 1) for o in objectness]
        scores_per_anchor = 2 if self.head.two_class else 1
        objectness, pred_bbox_deltas = concat_box_prediction_layers(
            objectness, pred_bbox_deltas, scores_per_anchor)
        # approximate joint training: the proposals do not carry gradients
        deltas = pred_bbox_deltas.data
        proposals = self.box_coder.decode_single(deltas, np.concatenate(anchors))
        proposals = proposals.reshape(num_images, -1, 4)
        logits = objectness.data
        if scores_per_anchor == 2:
            # softmax(bg, fg)[fg] = sigmoid(fg - bg): rank by the logit difference
            logits = logits[:, 1] - logits[:, 0]
        logits = logits.reshape(num_images, -1)
        image_shapes = [tuple(images.shape[-2:])] * num_images
        boxes, scores = self.filter_proposals(proposals, logits, image_shapes,
                                              num_anchors_per_level)
        self.last_scores = scores
        losses = {}
        if self.training:
            if targets is None:
                raise ValueError("RegionProposalNetwork: targets are needed in training mode "
                                 "(a list of dicts with 'boxes'); call model.eval() to "
                                 "predict")
            labels, matched_gt_boxes = self.assign_targets_to_anchors(anchors, targets)
            regression_targets = [self.box_coder.encode_single(m, a)
                                  for m, a in zip(matched_gt_boxes, anchors)]
            loss_objectness, loss_rpn_box_reg = self.compute_loss(
                objectness, pred_bbox_deltas, labels, regression_targets)
            losses = {"loss_objectness": loss_objectness, "loss_rpn_box_reg": loss_rpn_box_reg}
        return boxes, losses


def rpn_proposals(rpn, images, features):
    """Proposals and their objectness probabilities of an RPN in eval mode, without
    gradients: (list of (P_i, 4), list of (P_i,))."""
    was_training = rpn.training
    rpn.eval()
    try:
        with no_grad():
            boxes, _ = rpn(images, features)
    finally:
        rpn.train(was_training)
    return boxes, rpn.last_scores


def default_rpn(in_channels, sizes=((8, 16, 32),), aspect_ratios=((0.5, 1.0, 2.0),),
                two_class=False, **kwargs):
    """An RPN with k = len(sizes) x len(ratios) anchors (9 by default) on one feature map."""
    anchors = AnchorGenerator(sizes, aspect_ratios)
    head = RPNHead(in_channels, anchors.num_anchors_per_location()[0], two_class=two_class)
    return RegionProposalNetwork(anchors, head, **kwargs)
