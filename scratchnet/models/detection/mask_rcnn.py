"""Mask R-CNN (He, Gkioxari, Dollar and Girshick, "Mask R-CNN", ICCV 2017): Faster R-CNN with
a third branch that predicts a mask for each region, next to its class and box
(torchvision's models.detection.mask_rcnn).

    model = mask_rcnn(num_classes=11)                # DigitScenes: background + 10 digits
    model.train(); losses = model(images, targets)   # Faster R-CNN's four losses + loss_mask
    model.eval();  detections = model(images)        # + "masks" (K, 1, H, W) probabilities

The paper's Figure 1 and Figure 4 (right, "head architecture"), top to bottom:

    images (N, C, H, W)
      -> backbone                 features (N, C', H/s, W/s)
      -> RegionProposalNetwork    proposals [(P_i, 4)]
      -> RoIHeads, box branch     RoI pool 7x7, two fc, K+1 scores and 4 (K+1) deltas
      -> RoIHeads, mask branch    on the positive RoIs (training) or the detections (test):
           RoIAlign 14x14          (R, C', 14, 14)
           MaskRCNNHeads           four 3x3 convs + ReLU        (R, 256, 14, 14)
           MaskRCNNPredictor       2x2 deconv, stride 2 + ReLU  (R, 256, 28, 28)
                                   1x1 conv, one mask per class (R, K+1, 28, 28)

The mask branch is a small FCN: it keeps the RoI's spatial layout instead of flattening it
into a vector, so each of the 28 x 28 outputs sees the pixels it describes. One mask per
class, each with its own sigmoid, decouples the mask from the class: the box branch says
which class, and the loss looks only at that class's mask (section 3, "Mask
Representation"):

    L_mask = mean over the R positive RoIs and the M x M pixels of
             BCE(sigmoid(z[r, k_r, i, j]), t[r, i, j])

with k_r the ground-truth class of RoI r and t its target: the ground-truth mask of the
object the RoI was matched to, cut out along the RoI and resized to M x M by RoIAlign
(project_masks_on_boxes). The other K masks get no gradient, so classes do not compete for
pixels, unlike a per-pixel softmax (the paper's Table 2b: +5.5 mask AP for the sigmoid).
The total loss is L = L_cls + L_box + L_mask, Faster R-CNN's four losses plus loss_mask.

At test time the mask branch runs on the (at most 100) detections: the mask of the
predicted class, a 28x28 map of probabilities, is resized to the box and pasted into the
image (paste_masks_in_image); thresholding it at 0.5 gives the binary instance mask.

RoIAlign against RoIPool (Table 2c of the paper): RoI pooling rounds the box and its bins
to whole feature-map cells, an error of up to half a stride that hardly changes a class but
misplaces a mask; `mask_rcnn(mask_roi_pool="pool")` swaps RoIAlign for RoIPool in the mask
branch only, so the ablation is one argument.
"""
from __future__ import annotations

import numpy as np

from ... import Tensor, nn
from ...data.transforms import resize
from ...nn import functional as F
from ...nn import init
from ...ops.roi import roi_align
from .backbone import digit_scenes_backbone
from .faster_rcnn import FasterRCNN, region_proposal_network, roi_pool_layer
from .roi_heads import RoIHeads, box_head_layers, fastrcnn_loss


class MaskRCNNHeads(nn.Module):
    """The mask head's four 3x3 convolutions (padding = dilation, so the size is kept), each
    followed by ReLU: (R, in_channels, 14, 14) -> (R, layers[-1], 14, 14). The paper and
    torchvision use layers = (256, 256, 256, 256); a smaller width suits small backbones.
    Weights: Kaiming normal (fan_out, ReLU), zero bias, as torchvision."""

    def __init__(self, in_channels: int, layers=(256, 256, 256, 256), dilation: int = 1):
        super().__init__()
        layers = tuple(int(c) for c in layers)
        if not layers or min(layers) < 1:
            raise ValueError(f"MaskRCNNHeads: layers must be one or more positive channel "
                             f"counts (the paper: 256, 256, 256, 256), got {layers!r}")
        c_in = int(in_channels)
        for i, c in enumerate(layers, start=1):
            conv = nn.Conv2d(c_in, c, 3, padding=dilation, dilation=dilation)
            init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            init.zeros_(conv.bias)
            setattr(self, f"mask_fcn{i}", conv)
            c_in = c
        self.num_layers = len(layers)
        self.in_channels = int(in_channels)
        self.out_channels = c_in

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"MaskRCNNHeads: expected RoI features (R, {self.in_channels}, "
                             f"h, w), got shape {tuple(x.shape)}")
        for i in range(1, self.num_layers + 1):
            x = F.relu(getattr(self, f"mask_fcn{i}")(x))
        return x


class MaskRCNNPredictor(nn.Module):
    """conv5_mask: a 2x2 transposed convolution with stride 2 (doubles the side: 14 -> 28)
    and ReLU, then mask_fcn_logits: a 1x1 convolution to one mask logit per class.
    (R, in_channels, h, w) -> (R, num_classes, 2h, 2w). Kaiming normal (fan_out, ReLU)
    weights and zero biases, as torchvision."""

    def __init__(self, in_channels: int, dim_reduced: int, num_classes: int):
        super().__init__()
        self.conv5_mask = nn.ConvTranspose2d(in_channels, dim_reduced, 2, 2, 0)
        self.mask_fcn_logits = nn.Conv2d(dim_reduced, num_classes, 1, 1, 0)
        for layer in (self.conv5_mask, self.mask_fcn_logits):
            init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            init.zeros_(layer.bias)
        self.num_classes = int(num_classes)

    def forward(self, x):
        return self.mask_fcn_logits(F.relu(self.conv5_mask(x)))


def project_masks_on_boxes(gt_masks, boxes, matched_idxs, M, aligned=False):
    """The mask targets of RoIs: each RoI's matched ground-truth mask cut out along the RoI
    and resized to M x M, as torchvision: roi_align of the masks (as a 1-channel float
    batch) with spatial_scale 1, adaptive sampling and aligned=False. aligned=True is
    Detectron2's choice: the box's edges are pixel edges (pixel k spans [k, k + 1]), so
    the target is not shifted by half a pixel.

    gt_masks (G, H, W) bool or float; boxes (P, 4) xyxy in image pixels; matched_idxs (P,)
    indices into gt_masks -> (P, M, M) float32 in [0, 1] (soft at the mask's edges, the
    targets the loss uses as they are)."""
    masks = np.asarray(getattr(gt_masks, "data", gt_masks))
    boxes = np.asarray(getattr(boxes, "data", boxes), np.float32).reshape(-1, 4)
    idx = np.asarray(matched_idxs).reshape(-1)
    if masks.ndim != 3 or len(idx) != len(boxes):
        raise ValueError(f"project_masks_on_boxes: expected gt_masks (G, H, W), boxes "
                         f"(P, 4) and matched_idxs (P,); got {masks.shape}, {boxes.shape}, "
                         f"{idx.shape}")
    if len(boxes) == 0:
        return np.zeros((0, M, M), np.float32)
    if idx.min() < 0 or idx.max() >= len(masks):
        raise ValueError(f"project_masks_on_boxes: matched_idxs must index the {len(masks)} "
                         f"ground-truth masks, got values from {idx.min()} to {idx.max()}")
    rois = np.concatenate([idx[:, None].astype(np.float32), boxes], axis=1)
    out = roi_align(Tensor(masks[:, None].astype(np.float32)), Tensor(rois), (M, M), 1.0,
                    aligned=bool(aligned))
    return out.data[:, 0]


def maskrcnn_loss_reference(mask_logits, labels, mask_targets):
    """L_mask written out per RoI and pixel in NumPy, for reading and checking:
    mask_logits (R, K, M, M), labels (R,) ground-truth classes, mask_targets (R, M, M) ->
    the mean binary cross-entropy of sigmoid(mask_logits[r, labels[r]]) against the
    targets, as a float."""
    R, _, M, _ = mask_logits.shape
    total = 0.0
    for r in range(R):
        z = np.asarray(mask_logits[r, int(labels[r])], np.float64)
        t = np.asarray(mask_targets[r], np.float64)
        for i in range(M):
            for j in range(M):
                p = 1.0 / (1.0 + np.exp(-z[i, j]))
                total += -(t[i, j] * np.log(p) + (1.0 - t[i, j]) * np.log(1.0 - p))
    return total / (R * M * M)


def maskrcnn_loss(mask_logits, proposals, gt_masks, gt_labels, mask_matched_idxs,
                  aligned=False):
    """L_mask (see the module docstring) on Tensors, torchvision's signature.

    mask_logits (R, K, M, M) Tensor for the positive RoIs of all images in order;
    proposals [(P_i, 4)] those RoIs per image (sum P_i = R); gt_masks [(G_i, H, W)];
    gt_labels [(G_i,)]; mask_matched_idxs [(P_i,)] the ground-truth object of each RoI.
    aligned: how the targets are cut out (project_masks_on_boxes).
    Returns a scalar Tensor: per-pixel sigmoid binary cross-entropy on the channel of each
    RoI's ground-truth class only, averaged over the R x M x M values (0 with a gradient of
    zeros when there is no positive RoI)."""
    R, K, M, M2 = mask_logits.shape
    if M != M2:
        raise ValueError(f"maskrcnn_loss: mask_logits must be (R, K, M, M), got "
                         f"{tuple(mask_logits.shape)}")
    labels = [np.asarray(g, np.int64).reshape(-1)[np.asarray(i, np.int64)]
              for g, i in zip(gt_labels, mask_matched_idxs)]
    targets = [project_masks_on_boxes(m, p, i, M, aligned)
               for m, p, i in zip(gt_masks, proposals, mask_matched_idxs)]
    labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    targets = np.concatenate(targets) if targets else np.zeros((0, M, M), np.float32)
    if len(labels) != R:
        raise ValueError(f"maskrcnn_loss: {R} mask predictions but {len(labels)} matched "
                         f"RoIs in mask_matched_idxs")
    if R == 0:
        return mask_logits.sum() * 0.0
    if labels.min() < 0 or labels.max() >= K:
        raise ValueError(f"maskrcnn_loss: ground-truth classes must lie in 0..{K - 1} (one "
                         f"mask channel each), got {labels.min()}..{labels.max()}")
    chosen = mask_logits[np.arange(R), labels]             # (R, M, M)
    return F.binary_cross_entropy_with_logits(chosen, Tensor(targets.astype(chosen.dtype)))


def paste_masks_in_image(masks, boxes, img_shape, padding=1, aligned=False):
    """Each M x M mask resized into its box and placed in an empty image, as torchvision
    (aligned=True: as Detectron2, see below).

    masks (N, 1, M, M) probabilities; boxes (N, 4) xyxy; img_shape (H, W) ->
    (N, 1, H, W) of the masks' dtype, 0 outside the boxes. The mask is first padded by
    `padding` zero pixels on every side and its box widened by the same fraction,
    (M + 2 padding) / M, around its centre, so that the mask's edge can fade out across the
    box border instead of being cut at it. The widened box is truncated to whole pixels
    (toward zero), the padded mask resized bilinearly (align_corners=False) to
    (y2 - y1 + 1) x (x2 - x1 + 1) pixels, torchvision's inclusive-pixel size, and the part
    inside the image copied to rows y1..y2, columns x1..x2.

    torchvision's box is whole pixels from x1 to x2 inclusive, one pixel wider than the box
    whose edges are x1 and x2, and the truncation moves it by up to a pixel: nothing on
    large COCO objects, but on a 6-pixel digit the pasted mask misses most of its strokes.
    aligned=True pastes in continuous coordinates instead (Detectron2's paste, grid_sample
    with align_corners=False): the M mask pixels span the box exactly, image pixel k is
    sampled at its centre k + 0.5 from the bilinear interpolation of the mask, zero
    beyond the mask's outer pixel centres fading out over half a mask pixel (padding is
    not used)."""
    m = np.asarray(getattr(masks, "data", masks))
    b = np.asarray(getattr(boxes, "data", boxes), np.float32).reshape(-1, 4)
    if m.ndim != 4 or m.shape[1] != 1 or len(m) != len(b) or m.shape[2] != m.shape[3]:
        raise ValueError(f"paste_masks_in_image: expected masks (N, 1, M, M) and boxes "
                         f"(N, 4), got {m.shape} and {b.shape}")
    im_h, im_w = (int(s) for s in img_shape)
    dtype = m.dtype if m.dtype.kind == "f" else np.dtype(np.float32)
    out = np.zeros((len(m), 1, im_h, im_w), dtype)
    if len(m) == 0:
        return out
    M = m.shape[-1]
    if aligned:
        for n, (x1, y1, x2, y2) in enumerate(b.astype(np.float64)):
            rows = _paste_weights(y1, y2, M, im_h)
            cols = _paste_weights(x1, x2, M, im_w)
            out[n, 0] = rows @ m[n, 0].astype(np.float64) @ cols.T
        return out
    padded = np.pad(m[:, 0].astype(dtype), ((0, 0), (padding, padding), (padding, padding)))
    scale = np.float32((M + 2 * padding) / M)
    half_w = (b[:, 2] - b[:, 0]) * np.float32(0.5) * scale
    half_h = (b[:, 3] - b[:, 1]) * np.float32(0.5) * scale
    cx = (b[:, 2] + b[:, 0]) * np.float32(0.5)
    cy = (b[:, 3] + b[:, 1]) * np.float32(0.5)
    wide = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
    wide = np.trunc(wide).astype(np.int64)
    for n, (x1, y1, x2, y2) in enumerate(wide):
        w, h = max(int(x2 - x1 + 1), 1), max(int(y2 - y1 + 1), 1)
        mask = resize(padded[n], (h, w))
        x_0, x_1 = max(x1, 0), min(x2 + 1, im_w)
        y_0, y_1 = max(y1, 0), min(y2 + 1, im_h)
        if x_0 < x_1 and y_0 < y_1:
            out[n, 0, y_0:y_1, x_0:x_1] = mask[y_0 - y1:y_1 - y1, x_0 - x1:x_1 - x1]
    return out


def _paste_weights(lo, hi, M, n):
    """(n, M) bilinear weights: image pixel k (centre k + 0.5) reads mask position
    u = (k + 0.5 - lo) / (hi - lo) * M - 0.5 (mask pixel centres at 0..M-1), from mask
    pixels floor(u) and floor(u) + 1, a neighbour outside 0..M-1 counting as 0."""
    u = (np.arange(n) + 0.5 - lo) / max(hi - lo, 1e-6) * M - 0.5
    i0 = np.floor(u).astype(np.int64)
    frac = u - i0
    weights = np.zeros((n, M))
    for j, w in ((i0, 1.0 - frac), (i0 + 1, frac)):
        inside = (j >= 0) & (j < M)
        weights[np.flatnonzero(inside), j[inside]] += w[inside]
    return weights


class MaskRoIHeads(RoIHeads):
    """RoIHeads with the mask branch (torchvision's RoIHeads with mask_roi_pool, mask_head
    and mask_predictor).

    Training: the box branch as in Faster R-CNN, then the mask branch on the sampled RoIs
    that are foreground: RoI features (mask_roi_pool) -> mask_head -> mask_predictor ->
    maskrcnn_loss against the masks of the objects they were matched to. The targets need
    "masks" (G, H, W) next to "boxes" and "labels". Losses: loss_classifier, loss_box_reg,
    loss_mask.

    Test: the box branch's detections, then the mask branch on the detected boxes; the
    sigmoid of each detection's predicted-class mask is pasted into the image: each dict
    gains "masks" (K, 1, H, W) float32 probabilities.

    mask_aligned: how mask targets are cut out and masks pasted back (aligned=... of
    project_masks_on_boxes and paste_masks_in_image): False is torchvision's, True
    Detectron2's half-pixel-exact version.
    """

    def __init__(self, box_roi_pool, box_head, box_predictor, mask_roi_pool, mask_head,
                 mask_predictor, mask_aligned=False, **kwargs):
        super().__init__(box_roi_pool, box_head, box_predictor, **kwargs)
        self.mask_roi_pool = mask_roi_pool
        self.mask_head = mask_head
        self.mask_predictor = mask_predictor
        self.mask_aligned = bool(mask_aligned)

    def mask_logits(self, features, boxes):
        """features (N, C, h, w), boxes [(L_i, 4)] -> mask logits (sum L_i, K, 2S, 2S)."""
        x = self.mask_roi_pool(features, [np.asarray(b, np.float32).reshape(-1, 4)
                                          for b in boxes])
        return self.mask_predictor(self.mask_head(x))

    def forward(self, features, proposals, image_shapes, targets=None):
        if not self.training:
            detections, _ = super().forward(features, proposals, image_shapes)
            boxes = [d["boxes"] for d in detections]
            if sum(len(b) for b in boxes) == 0:
                for d, shape in zip(detections, image_shapes):
                    d["masks"] = np.zeros((0, 1) + tuple(shape), np.float32)
                return detections, {}
            logits = self.mask_logits(features, boxes).data
            labels = np.concatenate([d["labels"] for d in detections])
            chosen = logits[np.arange(len(labels)), labels]          # (K, M, M)
            probs = (1.0 / (1.0 + np.exp(-chosen.astype(np.float64)))).astype(np.float32)
            start = 0
            for d, shape in zip(detections, image_shapes):
                k = len(d["boxes"])
                d["masks"] = paste_masks_in_image(probs[start:start + k, None], d["boxes"],
                                                  shape, aligned=self.mask_aligned)
                start += k
            return detections, {}
        if targets is None or any("masks" not in t for t in targets):
            raise ValueError("MaskRoIHeads: training needs targets with 'boxes', 'labels' "
                             "and 'masks' ((G, H, W) bool, one mask per object)")
        proposals, matched_idxs, labels, regression_targets = self.select_training_samples(
            proposals, targets)
        box_features = self.box_head(self.box_roi_pool(features, proposals))
        class_logits, box_regression = self.box_predictor(box_features)
        loss_classifier, loss_box_reg = fastrcnn_loss(
            class_logits, box_regression, labels, regression_targets, self.box_loss_beta)
        # the mask branch sees only the foreground RoIs (the paper: "L_mask is defined only
        # on positive RoIs")
        pos = [np.flatnonzero(lab > 0) for lab in labels]
        pos_proposals = [p[i] for p, i in zip(proposals, pos)]
        pos_matched = [m[i] for m, i in zip(matched_idxs, pos)]
        if sum(len(i) for i in pos) == 0:
            loss_mask = sum((p * 0.0).sum() for p in self.mask_predictor.parameters())
        else:
            loss_mask = maskrcnn_loss(self.mask_logits(features, pos_proposals),
                                      pos_proposals, [t["masks"] for t in targets],
                                      [t["labels"] for t in targets], pos_matched,
                                      aligned=self.mask_aligned)
        return [], {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg,
                    "loss_mask": loss_mask}


class MaskRCNN(FasterRCNN):
    """Faster R-CNN whose roi_heads are MaskRoIHeads (torchvision's MaskRCNN).

    forward(images, targets=None): in training mode the dict of the five losses
    (loss_objectness, loss_rpn_box_reg, loss_classifier, loss_box_reg, loss_mask), the
    targets holding "boxes", "labels" and "masks"; in eval mode one dict per image with
    "boxes" (K, 4) float32, "scores" (K,) float32, "labels" (K,) int64 and "masks"
    (K, 1, H, W) float32 probabilities (threshold at 0.5 for binary masks)."""

    def __init__(self, backbone, rpn, roi_heads):
        if not isinstance(roi_heads, MaskRoIHeads):
            raise TypeError(f"MaskRCNN: roi_heads must be MaskRoIHeads (the box branch and "
                            f"the mask branch), got {type(roi_heads).__name__}")
        super().__init__(backbone, rpn, roi_heads)


def mask_rcnn(num_classes=11, backbone=None, mask_roi_pool="align", box_roi_pool="align",
              mask_head_layers=(256, 256, 256, 256), mask_dim_reduced=None,
              mask_roi_output_size=14, mask_aligned=True, anchor_sizes=((8, 16, 32),),
              aspect_ratios=((0.5, 1.0, 2.0),), rpn_pre_nms_top_n_train=1000,
              rpn_pre_nms_top_n_test=600, rpn_post_nms_top_n_train=300,
              rpn_post_nms_top_n_test=100, rpn_nms_thresh=0.7, rpn_fg_iou_thresh=0.7,
              rpn_bg_iou_thresh=0.3, rpn_batch_size_per_image=256, rpn_positive_fraction=0.5,
              roi_output_size=7, representation_size=256, box_score_thresh=0.05,
              box_nms_thresh=0.5, box_detections_per_img=100, box_fg_iou_thresh=0.5,
              box_bg_iou_thresh=0.5, box_batch_size_per_image=128,
              box_positive_fraction=0.25, box_loss_beta=1 / 9):
    """Mask R-CNN for 64x64 scenes: faster_rcnn's RPN and box branch (same defaults, but
    RoIAlign for the box head too, as the paper) plus the mask branch.

    mask_roi_pool: "align" (RoIAlign 14x14, sampling_ratio 2, aligned=True: no rounding
    and pixel centres where the box says) or "pool" (RoI pooling 14x14, Fast R-CNN's
    rounding): the paper's RoIAlign-vs-RoIPool ablation for the mask branch is this one
    argument. box_roi_pool likewise for the box branch's 7x7 features.
    mask_head_layers: the widths of the four 3x3 convolutions (the paper: 256 each);
    mask_dim_reduced: the transposed convolution's width (default: the last of those).
    The masks come out at 2 x mask_roi_output_size = 28 pixels a side.
    mask_aligned=True (default) cuts the mask targets out and pastes the masks back with
    pixel-edge boxes (Detectron2); False uses torchvision's aligned=False targets and its
    inclusive-pixel pasting, which on DigitScenes' small digits caps mask IoU: a ground-truth
    mask cut to 28x28 and pasted back keeps IoU >= 0.5 for 53% of 279 held-out digits
    (7% of those under 8 pixels tall), against 100% with mask_aligned=True."""
    backbone = backbone or digit_scenes_backbone()
    rpn = region_proposal_network(
        backbone, anchor_sizes, aspect_ratios,
        pre_nms_top_n_train=rpn_pre_nms_top_n_train, pre_nms_top_n_test=rpn_pre_nms_top_n_test,
        post_nms_top_n_train=rpn_post_nms_top_n_train,
        post_nms_top_n_test=rpn_post_nms_top_n_test, nms_thresh=rpn_nms_thresh,
        fg_iou_thresh=rpn_fg_iou_thresh, bg_iou_thresh=rpn_bg_iou_thresh,
        batch_size_per_image=rpn_batch_size_per_image, positive_fraction=rpn_positive_fraction)
    box_pool = roi_pool_layer(box_roi_pool, roi_output_size, backbone.spatial_scale,
                              "mask_rcnn: box_roi_pool")
    mask_pool = roi_pool_layer(mask_roi_pool, mask_roi_output_size, backbone.spatial_scale,
                               "mask_rcnn: mask_roi_pool")
    box_head, box_predictor = box_head_layers(backbone.out_channels, roi_output_size,
                                              representation_size, num_classes)
    mask_head = MaskRCNNHeads(backbone.out_channels, mask_head_layers)
    dim_reduced = mask_head.out_channels if mask_dim_reduced is None else int(mask_dim_reduced)
    mask_predictor = MaskRCNNPredictor(mask_head.out_channels, dim_reduced, num_classes)
    heads = MaskRoIHeads(box_pool, box_head, box_predictor, mask_pool, mask_head,
                         mask_predictor, mask_aligned=mask_aligned,
                         fg_iou_thresh=box_fg_iou_thresh,
                         bg_iou_thresh=box_bg_iou_thresh,
                         batch_size_per_image=box_batch_size_per_image,
                         positive_fraction=box_positive_fraction,
                         score_thresh=box_score_thresh, nms_thresh=box_nms_thresh,
                         detections_per_img=box_detections_per_img,
                         box_loss_beta=box_loss_beta)
    return MaskRCNN(backbone, rpn, heads)
