"""The Fast R-CNN head (Girshick, ICCV 2015), torchvision's names: RoI pooling on the
backbone's feature map, two fully connected layers (TwoMLPHead), then two sibling outputs
(FastRCNNPredictor): K + 1 class scores and 4 box deltas for each of the K + 1 classes.
RoIHeads wires them with the training-time sampling, the multi-task loss and the test-time
post-processing; Fast R-CNN feeds it proposals from outside (selective search or windows),
Faster R-CNN from its RPN.

    features (N, C, H/s, W/s), proposals [(L_i, 4) xyxy per image]
      -> RoI pool            (sum L_i, C, 7, 7)
      -> TwoMLPHead          (sum L_i, representation_size)
      -> FastRCNNPredictor   cls_score (sum L_i, K+1), bbox_pred (sum L_i, 4 (K+1))

The multi-task loss of one sampled RoI with true class u (0 = background), predicted class
probabilities p, box deltas t^u for class u and regression target v:

    L = L_cls(p, u) + lambda [u >= 1] L_loc(t^u, v),   L_cls = -log p_u,
    L_loc = sum over x, y, w, h of smooth_L1(t^u_i - v_i),
    smooth_L1(x) = 0.5 x^2 / beta if |x| < beta else |x| - 0.5 beta

averaged over the R sampled RoIs (the box term also divided by R, foreground or not, as
torchvision does; lambda = 1). The targets v are the R-CNN box parametrisation scaled by
BoxCoder weights (10, 10, 5, 5): the paper normalises them to zero mean and unit variance,
torchvision divides by the fixed standard deviations (0.1, 0.1, 0.2, 0.2) instead. beta = 1
is the paper's smooth L1; torchvision's Faster R-CNN uses beta = 1/9.
"""
from __future__ import annotations

import numpy as np

from ... import Tensor, nn
from ...nn import functional as F
from ...nn import init
from ...ops.boxes import BoxCoder, batched_nms, box_iou, clip_boxes_to_image, \
    remove_small_boxes
from ._utils import BalancedPositiveNegativeSampler, Matcher


class TwoMLPHead(nn.Module):
    """Flatten, then fc6 and fc7 with ReLU: (R, C, PH, PW) -> (R, representation_size)."""

    def __init__(self, in_channels: int, representation_size: int):
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x):
        x = x.flatten(1)
        return F.relu(self.fc7(F.relu(self.fc6(x))))


class FastRCNNPredictor(nn.Module):
    """The two sibling layers: (R, in_channels) -> scores (R, num_classes), box deltas
    (R, 4 num_classes), class c's deltas at columns 4c..4c+3 (background included, as in
    torchvision). Initialised as in the paper: N(0, 0.01) for the scores, N(0, 0.001) for
    the deltas, zero biases."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)
        self.bbox_pred = nn.Linear(in_channels, num_classes * 4)
        init.normal_(self.cls_score.weight, std=0.01)
        init.normal_(self.bbox_pred.weight, std=0.001)
        init.zeros_(self.cls_score.bias)
        init.zeros_(self.bbox_pred.bias)

    def forward(self, x):
        if x.ndim == 4:
            x = x.flatten(1)
        return self.cls_score(x), self.bbox_pred(x)


def box_head_layers(in_channels, roi_output_size, representation_size, num_classes):
    """(TwoMLPHead, FastRCNNPredictor) for RoI features of `in_channels` channels pooled to
    roi_output_size (an int or (h, w)): the two fully connected layers of width
    representation_size, then the class scores and per-class boxes."""
    h, w = (roi_output_size, roi_output_size) if isinstance(roi_output_size, int) \
        else tuple(roi_output_size)
    return (TwoMLPHead(in_channels * h * w, representation_size),
            FastRCNNPredictor(representation_size, num_classes))


def fastrcnn_loss_reference(class_logits, box_regression, labels, regression_targets,
                            beta=1.0):
    """The multi-task loss written out per RoI in NumPy, for reading and checking:
    class_logits (R, K+1), box_regression (R, 4 (K+1)), labels (R,), regression_targets
    (R, 4) -> (classification loss, box loss) as floats."""
    R = len(labels)
    cls, box = 0.0, 0.0
    for r in range(R):
        z = np.asarray(class_logits[r], np.float64)
        log_p = z - z.max() - np.log(np.exp(z - z.max()).sum())
        u = int(labels[r])
        cls += -log_p[u]
        if u >= 1:
            for i in range(4):
                x = float(box_regression[r, 4 * u + i]) - float(regression_targets[r, i])
                box += 0.5 * x * x / beta if abs(x) < beta else abs(x) - 0.5 * beta
    return cls / R, box / R


def fastrcnn_loss(class_logits, box_regression, labels, regression_targets, beta=1.0):
    """The multi-task loss (see the module docstring) on Tensors.

    class_logits (R, K+1), box_regression (R, 4 (K+1)) Tensors; labels (R,) int64 and
    regression_targets (R, 4) arrays (or lists of per-image arrays, concatenated).
    Returns (loss_classifier, loss_box_reg), scalar Tensors."""
    if isinstance(labels, (list, tuple)):
        labels = np.concatenate([np.asarray(x) for x in labels])
    if isinstance(regression_targets, (list, tuple)):
        regression_targets = np.concatenate([np.asarray(x) for x in regression_targets])
    labels = np.asarray(getattr(labels, "data", labels)).astype(np.int64)
    targets = np.asarray(getattr(regression_targets, "data", regression_targets))
    R, C = class_logits.shape
    if box_regression.shape != (R, 4 * C) or labels.shape != (R,) or targets.shape != (R, 4):
        raise ValueError(f"fastrcnn_loss: expected class_logits (R, K+1), box_regression "
                         f"(R, 4 (K+1)), labels (R,), regression_targets (R, 4); got "
                         f"{tuple(class_logits.shape)}, {tuple(box_regression.shape)}, "
                         f"{labels.shape}, {targets.shape}")
    classification_loss = F.cross_entropy(class_logits, Tensor(labels))
    pos = np.flatnonzero(labels > 0)
    if len(pos) == 0:
        return classification_loss, (box_regression * 0.0).sum()
    deltas = box_regression.reshape((R, C, 4))[pos, labels[pos]]
    box_loss = F.smooth_l1_loss(deltas, Tensor(targets[pos].astype(deltas.dtype)),
                                beta=beta, reduction="sum")
    return classification_loss, box_loss / R


class RoIHeads(nn.Module):
    """RoI pooling, the box head and predictor, with the training-time sampling and loss and
    the test-time post-processing (torchvision's RoIHeads, boxes only).

    forward(features (N, C, h, w), proposals [(L_i, 4) xyxy arrays], image_shapes
    [(H, W)], targets=None) -> (detections, losses): in training detections is [] and
    losses {"loss_classifier", "loss_box_reg"}; in eval losses is {} and detections one dict
    per image {"boxes" (K, 4) float32, "scores" (K,) float32, "labels" (K,) int64}.

    Training: the ground-truth boxes join the proposals; each proposal is matched to the
    object it overlaps most: foreground (that object's class) at IoU >= fg_iou_thresh,
    background (class 0) at bg_iou_thresh_lo <= IoU < bg_iou_thresh, ignored otherwise
    (the paper: 0.5, [0.1, 0.5); torchvision: 0.5, [0, 0.5)); then batch_size_per_image
    RoIs are sampled per image, positive_fraction of them foreground when there are enough.

    Test: every proposal gets a box per class (decoded, clipped to the image) with that
    class's softmax score; boxes scoring <= score_thresh or smaller than min_size are
    dropped, NMS at nms_thresh runs per class, and the detections_per_img best remain.
    """

    def __init__(self, box_roi_pool, box_head, box_predictor, fg_iou_thresh=0.5,
                 bg_iou_thresh=0.5, batch_size_per_image=64, positive_fraction=0.25,
                 bbox_reg_weights=(10.0, 10.0, 5.0, 5.0), score_thresh=0.05, nms_thresh=0.5,
                 detections_per_img=100, bg_iou_thresh_lo=0.0, box_loss_beta=1.0,
                 min_size=1e-2):
        super().__init__()
        self.box_roi_pool = box_roi_pool
        self.box_head = box_head
        self.box_predictor = box_predictor
        self.proposal_matcher = Matcher(fg_iou_thresh, bg_iou_thresh, False)
        self.fg_bg_sampler = BalancedPositiveNegativeSampler(batch_size_per_image,
                                                             positive_fraction)
        self.box_coder = BoxCoder(bbox_reg_weights)
        self.bg_iou_thresh_lo = float(bg_iou_thresh_lo)
        self.score_thresh = float(score_thresh)
        self.nms_thresh = float(nms_thresh)
        self.detections_per_img = int(detections_per_img)
        self.box_loss_beta = float(box_loss_beta)
        self.min_size = float(min_size)

    def assign_targets_to_proposals(self, proposals, gt_boxes, gt_labels):
        """Per image: (matched gt index (L,) with -1 for none, labels (L,): class, 0
        background, -1 ignored)."""
        matched_idxs, labels = [], []
        for props, boxes, classes in zip(proposals, gt_boxes, gt_labels):
            if len(boxes) == 0:
                # no object: every proposal is background
                matched_idxs.append(np.full(len(props), -1, np.int64))
                labels.append(np.zeros(len(props), np.int64))
                continue
            quality = box_iou(boxes, props)
            matched = self.proposal_matcher(quality)
            lab = np.asarray(classes, np.int64)[np.maximum(matched, 0)]
            lab[matched == Matcher.BELOW_LOW_THRESHOLD] = 0
            lab[matched == Matcher.BETWEEN_THRESHOLDS] = -1
            if self.bg_iou_thresh_lo > 0:
                lab[(matched < 0) & (quality.max(axis=0) < self.bg_iou_thresh_lo)] = -1
            matched_idxs.append(matched)
            labels.append(lab)
        return matched_idxs, labels

    def select_training_samples(self, proposals, targets):
        """(proposals, matched_idxs, labels, regression_targets) of the sampled RoIs, one
        array of each per image."""
        gt_boxes = [np.asarray(t["boxes"], np.float32).reshape(-1, 4) for t in targets]
        gt_labels = [np.asarray(t["labels"], np.int64).reshape(-1) for t in targets]
        proposals = [np.concatenate([np.asarray(p, np.float32).reshape(-1, 4), g])
                     for p, g in zip(proposals, gt_boxes)]
        matched_idxs, labels = self.assign_targets_to_proposals(proposals, gt_boxes,
                                                                gt_labels)
        pos, neg = self.fg_bg_sampler(labels)
        out_p, out_m, out_l, out_t = [], [], [], []
        for i in range(len(proposals)):
            keep = np.flatnonzero(pos[i] | neg[i])
            props, matched = proposals[i][keep], matched_idxs[i][keep]
            gt = gt_boxes[i] if len(gt_boxes[i]) else np.zeros((1, 4), np.float32)
            # background RoIs get a dummy target (never used by the loss)
            matched_boxes = gt[np.maximum(matched, 0)] if len(gt_boxes[i]) else \
                np.repeat(gt, len(props), axis=0)
            out_p.append(props)
            out_m.append(matched)
            out_l.append(labels[i][keep])
            out_t.append(self._encode(matched_boxes, props))
        return out_p, out_m, out_l, out_t

    def _encode(self, gt, props):
        if len(props) == 0:
            return np.zeros((0, 4), np.float32)
        # a background RoI's dummy target may be a zero-size box: its log is never used
        with np.errstate(divide="ignore"):
            t = self.box_coder.encode_single(gt.astype(np.float64), props.astype(np.float64))
        return np.nan_to_num(t, neginf=0.0).astype(np.float32)

    def postprocess_detections(self, class_logits, box_regression, proposals, image_shapes):
        """Decoded, clipped, thresholded, per-class NMS'd detections, one dict per image."""
        logits = class_logits.data if isinstance(class_logits, Tensor) else class_logits
        deltas = box_regression.data if isinstance(box_regression, Tensor) else box_regression
        num_classes = logits.shape[-1]
        z = logits - logits.max(axis=1, keepdims=True)
        scores_all = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        counts = [len(p) for p in proposals]
        result, start = [], 0
        for props, n, shape in zip(proposals, counts, image_shapes):
            s = scores_all[start:start + n]
            boxes = self.box_coder.decode_single(deltas[start:start + n],
                                                 np.asarray(props, deltas.dtype))
            start += n
            boxes = clip_boxes_to_image(boxes.reshape(-1, 4), shape).reshape(n, -1, 4)
            # drop the background column; one candidate per (proposal, class)
            boxes = boxes[:, 1:].reshape(-1, 4)
            scores = s[:, 1:].reshape(-1)
            labels = np.tile(np.arange(1, num_classes, dtype=np.int64), n)
            keep = np.flatnonzero(scores > self.score_thresh)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = remove_small_boxes(boxes, self.min_size)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = batched_nms(boxes, scores, labels, self.nms_thresh)[:self.detections_per_img]
            result.append({"boxes": boxes[keep].astype(np.float32),
                           "scores": scores[keep].astype(np.float32),
                           "labels": labels[keep]})
        return result

    def forward(self, features, proposals, image_shapes, targets=None):
        if self.training:
            if targets is None:
                raise ValueError("RoIHeads: targets are needed in training mode (a list of "
                                 "dicts with 'boxes' and 'labels', one per image)")
            proposals, _, labels, regression_targets = self.select_training_samples(
                proposals, targets)
        box_features = self.box_roi_pool(features, [np.asarray(p, np.float32)
                                                    for p in proposals])
        box_features = self.box_head(box_features)
        class_logits, box_regression = self.box_predictor(box_features)
        if self.training:
            loss_classifier, loss_box_reg = fastrcnn_loss(
                class_logits, box_regression, labels, regression_targets,
                self.box_loss_beta)
            return [], {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg}
        return self.postprocess_detections(class_logits, box_regression, proposals,
                                           image_shapes), {}
