"""R-CNN (Girshick et al., "Rich feature hierarchies for accurate object detection and semantic
segmentation", CVPR 2014), at DigitScenes' scale.

Test time, one image:

    proposals (K, 4)  --warp with context-->  K crops (K, C, S, S)
      --CNN, K forward passes-->  pool5 (K, D_pool5), fc7 (K, D_fc7)
      --per-class linear SVMs on fc7-->  scores (K, num_classes - 1)
      --per-class box regression on pool5-->  boxes (K, num_classes - 1, 4)
      --per-class NMS-->  detections

Training is the paper's four separate stages (the course deck's complaint: "복잡한 네트워크 학습
단계"), after a supervised pre-training of the CNN (ImageNet in the paper; the warped objects
of DigitScenes' training scenes here); each is a function of scratchnet.detection.rcnn that
runs on its own:

    1. fine-tune the CNN as a (num_classes)-way softmax classifier of warped regions
       (IoU >= 0.5 with an object: its class, else background; 32 positives and 96
       background regions per batch of 128)
    2. run the CNN over every region of every training image and cache the features to disk
    3. per class, a linear SVM on fc7 with the hinge loss: the ground-truth boxes are the
       positives, regions with IoU < 0.3 with every object of the class the negatives (the
       ones in between are ignored), hard negatives mined over the cache
    4. per class, ridge regression from pool5 features to the box targets (t_x, t_y, t_w, t_h)
       of proposals with IoU > 0.6 with an object of the class

Sizes scaled from the paper's: the paper warps to 227 x 227 with p = 16 pixels of context, so
the region fills 195 of the 227 pixels. DigitScenes are 64 x 64, the digits 4 to 51 pixels,
so regions warp to S = 32 with p = round(16 * 32 / 227) = 2 pixels of context (the region
fills the central 28 x 28, MNIST's digit size). Both R-CNN and SPPNet take the proposer as an
argument (any callable image (C, H, W) -> (N, 4) float32 xyxy boxes): selective search, or
the multi-scale sliding windows below.
"""
from __future__ import annotations

import hashlib

import numpy as np

from ... import Tensor, cat, nn, no_grad
from ...kernels.svm import linear_svm_dual_cd
from ...nn import functional as F
from ...ops.boxes import BoxCoder, batched_nms, box_iou, clip_boxes_to_image
from ...ops.roi import roi_align
from .backbone import digit_scenes_backbone

PAPER_WARP, PAPER_CONTEXT = 227, 16
FEATURE_NORM = 20.0   # the paper's code scales features to this mean L2 norm before the SVMs


def _np(x):
    if isinstance(x, Tensor):
        return x.detach().numpy()
    return np.asarray(x)


def scaled_context(warp_size: int) -> int:
    """The paper's 16 pixels of context at 227 x 227, scaled to a warp_size x warp_size crop:
    round(16 * warp_size / 227) (2 for 32, 16 for 227)."""
    return int(round(PAPER_CONTEXT * warp_size / PAPER_WARP))


class SlidingWindowProposer:
    """Class-agnostic proposals from multi-scale sliding windows: for every window height in
    `sizes` and width/height ratio in `ratios`, windows every `stride` * height pixels over
    the image. A stand-in for selective search (it knows nothing of the image's content).

    __call__(image (C, H, W)) -> (N, 4) float32 xyxy, the same boxes for every image of a
    size."""

    def __init__(self, sizes=(6, 9, 13, 19, 27, 38, 52), ratios=(0.6, 0.9), stride=0.4):
        self.sizes, self.ratios, self.stride = tuple(sizes), tuple(ratios), float(stride)
        self._cache = {}

    def __repr__(self):
        return (f"SlidingWindowProposer(sizes={self.sizes}, ratios={self.ratios}, "
                f"stride={self.stride})")

    def __call__(self, image):
        h, w = np.shape(image)[-2:]
        if (h, w) not in self._cache:
            boxes = []
            for size in self.sizes:
                for ratio in self.ratios:
                    bh, bw = float(size), float(size) * ratio
                    if bh > h or bw > w:
                        continue
                    step = max(1.0, self.stride * size)
                    ys = np.arange(0.0, h - bh + 1e-6, step)
                    xs = np.arange(0.0, w - bw + 1e-6, step)
                    yy, xx = np.meshgrid(ys, xs, indexing="ij")
                    boxes.append(np.stack([xx.ravel(), yy.ravel(), xx.ravel() + bw,
                                           yy.ravel() + bh], axis=1))
            self._cache[(h, w)] = np.concatenate(boxes).astype(np.float32)
        return self._cache[(h, w)].copy()


class SelectiveSearchProposer:
    """scratchnet.models.detection.selective_search as a proposer: image (C, H, W) in [0, 1]
    -> (N, 4) float32 xyxy, at most `max_proposals` (selective search ranks its boxes).

    The segmentation's k and minimum region size are in pixels, set for photos of about 500
    pixels; on a 64-pixel scene a 4-pixel digit is smaller than the minimum region and
    disappears into the background (recall at IoU 0.5 was 0.45 on 30 training scenes). The
    search therefore runs on the image enlarged `image_scale` times (selective_search's own
    option): at 3x, about 310 proposals per scene and recall 0.97 on the same scenes."""

    def __init__(self, mode: str = "fast", max_proposals: int = 2000, image_scale: float = 3.0):
        self.mode, self.max_proposals = mode, int(max_proposals)
        self.image_scale = float(image_scale)

    def __repr__(self):
        return (f"SelectiveSearchProposer(mode={self.mode!r}, "
                f"max_proposals={self.max_proposals}, image_scale={self.image_scale})")

    def __call__(self, image):
        from .selective_search import selective_search
        boxes = selective_search(np.asarray(_np(image), np.float32), mode=self.mode,
                                 image_scale=self.image_scale)
        return np.asarray(boxes, np.float32)[:self.max_proposals]


def make_proposer(name: str, **kwargs):
    """A proposer by name: "selective_search" or "sliding_window"."""
    if name == "selective_search":
        return SelectiveSearchProposer(**kwargs)
    if name == "sliding_window":
        return SlidingWindowProposer(**kwargs)
    raise ValueError(f"unknown proposer {name!r}: expected 'selective_search' or "
                     f"'sliding_window'")


def context_boxes(boxes, warp_size: int, context: int):
    """Grow each box (K, 4) xyxy about its centre so that, warped to warp_size x warp_size,
    the original box fills the central (warp_size - 2*context) pixels and `context` pixels
    of its surroundings show on every side: each side is scaled by
    warp_size / (warp_size - 2*context) (227 / 195 in the paper)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    inner = warp_size - 2 * context
    if inner <= 0:
        raise ValueError(f"context_boxes: context {context} leaves no room for the region in "
                         f"a {warp_size}x{warp_size} warp: {warp_size} - 2*{context} = {inner}")
    grow = warp_size / inner
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    hw, hh = (b[:, 2] - b[:, 0]) / 2 * grow, (b[:, 3] - b[:, 1]) / 2 * grow
    return np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1)


def warp_regions(image, boxes, warp_size: int = 32, context: int = 2):
    """R-CNN's input: every region, grown by its context, warped (anisotropically, as the
    paper does) to warp_size x warp_size by bilinear sampling at the warp's pixel centres.

    image (C, H, W); boxes (K, 4) xyxy in pixel-edge coordinates -> (K, C, S, S) float32.
    Where the grown box leaves the image the crop shows the image's mean (the paper fills
    with the mean too). The sampling is roi_align with aligned=True and one sample per bin,
    run on the image minus its mean (roi_align gives 0 beyond the border)."""
    img = np.asarray(_np(image), dtype=np.float32)
    if img.ndim != 3:
        raise ValueError(f"warp_regions: expected one image (C, H, W), got shape {img.shape}")
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(b) == 0:
        return np.zeros((0, img.shape[0], warp_size, warp_size), np.float32)
    mean = img.mean(axis=(1, 2), keepdims=True)
    grown = context_boxes(b, warp_size, context).astype(np.float32)
    with no_grad():
        crops = roi_align(Tensor(img[None] - mean), [grown], (warp_size, warp_size), 1.0, 1,
                          True)
    return crops.numpy() + mean[None]


class RegionCNN(nn.Module):
    """The CNN R-CNN runs on each warped region, AlexNet's plan at 32 x 32:

        features  the DigitScenes detection backbone (digit_scenes_backbone: three stages of
                  two 3x3 conv + BatchNorm + ReLU, max pools between)
                                                    (K, 64, S/4, S/4)  "conv5", stride 4
        pool5     maxpool2 + flatten                (K, 64 * (S/8)^2) = (K, 1024) at S = 32
        fc        fc6 Linear(1024, 256) ReLU, fc7 Linear(256, 256) ReLU      (K, 256)
        classifier Linear(256, num_classes)          the softmax of the fine-tuning stage

    `features` is the conv trunk SPPNet reuses (convolving the whole image once)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 11, warp_size: int = 32,
                 widths=(16, 32, 64), hidden: int = 256):
        super().__init__()
        if warp_size % 8:
            raise ValueError(f"RegionCNN: warp_size must be a multiple of 8 (the backbone's "
                             f"stride 4, then pool5's 2), got {warp_size}")
        self.warp_size = int(warp_size)
        self.features = digit_scenes_backbone(in_channels, widths)
        c = self.out_channels = self.features.out_channels
        self.pool5 = nn.Sequential(nn.MaxPool2d(2), nn.Flatten())
        side = warp_size // 8
        self.fc = nn.Sequential(nn.Linear(c * side * side, hidden), nn.ReLU(),
                                nn.Linear(hidden, hidden), nn.ReLU())
        self.classifier = nn.Linear(hidden, num_classes)

    def extract(self, crops):
        """crops (K, C, S, S) -> (pool5 (K, D_pool5), fc7 (K, hidden)) Tensors."""
        pool5 = self.pool5(self.features(crops))
        return pool5, self.fc(pool5)

    def forward(self, crops):
        """crops (K, C, S, S) -> class scores (K, num_classes)."""
        return self.classifier(self.extract(crops)[1])


def train_linear_svm(X, y, C=1.0, positive_weight=1.0, bias_scale=1.0, max_epochs=200,
                     tol=1e-3, seed=0):
    """A linear SVM, hinge loss: min 1/2 (|w|^2 + b'^2) + sum_i C_i max(0, 1 - y_i f(x_i))
    with f(x) = w.x + b and b = b' * bias_scale (LIBLINEAR's bias column); positives cost
    C * positive_weight. X (n, d), y (n,) in {-1, +1} -> (w (d,), b)."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"train_linear_svm: X must be (n, d) and y (n,), got X {X.shape} and "
                         f"y {y.shape}")
    if not np.isin(y, (-1.0, 1.0)).all():
        raise ValueError("train_linear_svm: labels must be -1 or +1")
    if C <= 0:
        raise ValueError(f"train_linear_svm: C must be > 0, got {C}")
    Xb = np.concatenate([X, np.full((len(X), 1), float(bias_scale))], axis=1)
    cost = np.where(y > 0, C * positive_weight, C).astype(np.float64)
    w, _, _ = linear_svm_dual_cd(np.ascontiguousarray(Xb), y, cost, int(max_epochs),
                                 float(tol), int(seed))
    return w[:-1], float(w[-1] * bias_scale)


def hinge_objective(w, b, X, y, C=1.0, positive_weight=1.0, bias_scale=1.0):
    """The primal objective train_linear_svm minimises (for reports and tests)."""
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    margins = np.maximum(0.0, 1.0 - y * (X @ w + b))
    cost = np.where(y > 0, C * positive_weight, C)
    bb = b / bias_scale if bias_scale else 0.0
    return 0.5 * (float(w @ w) + bb * bb) + float((cost * margins).sum())


def svm_with_hard_negatives(positives, negatives, C=1.0, positive_weight=1.0,
                            initial_negatives=2000, max_rounds=5, hard_margin=-1.0,
                            bias_scale=1.0, seed=0, log=None, tol=1e-3, max_epochs=200):
    """R-CNN's hard-negative mining for one class.

    positives (P, d), negatives (M, d) (all of them, e.g. from the feature cache). Start from
    `initial_negatives` random negatives (or the negatives of an index array); after each
    training round, score every negative and add those not yet in the working set whose
    score exceeds `hard_margin` (-1: they sit inside the margin or on the wrong side, so they
    still cost hinge loss); stop when a round adds none. Returns (w, b, rounds) with one dict
    per round: its working-set size, the hard negatives it added and the objective on the
    working set."""
    pos = np.asarray(positives, np.float64)
    neg = np.asarray(negatives, np.float64)
    active = np.zeros(len(neg), bool)
    if not np.isscalar(initial_negatives):
        active[np.asarray(initial_negatives, np.int64)] = True
    elif len(neg):
        rng = np.random.default_rng(seed)
        active[rng.permutation(len(neg))[:int(initial_negatives)]] = True
    rounds = []
    w, b = np.zeros(pos.shape[1] if pos.ndim == 2 else neg.shape[1]), 0.0
    for r in range(max_rounds):
        X = np.concatenate([pos, neg[active]])
        y = np.concatenate([np.ones(len(pos)), -np.ones(int(active.sum()))])
        w, b = train_linear_svm(X, y, C, positive_weight, bias_scale, max_epochs, tol,
                                seed=seed + r)
        hard = (~active) & (neg @ w + b > hard_margin)
        info = {"round": r, "working_negatives": int(active.sum()),
                "added": int(hard.sum()),
                "objective": hinge_objective(w, b, X, y, C, positive_weight, bias_scale)}
        rounds.append(info)
        if log is not None:
            log(info)
        if not hard.any():
            break
        active |= hard
    return w, b, rounds


def fit_ridge(X, T, lam=1000.0):
    """Ridge regression with an unregularised intercept: min_W |X W + c - T|^2 + lam |W|^2.

    X (n, d), T (n, k) -> (W (d, k), c (k,)). Centred, W = (Xc^T Xc + lam I)^-1 Xc^T Tc and
    c = mean(T) - mean(X) W (the paper's box regressors, lam = 1000)."""
    X = np.asarray(X, np.float64)
    T = np.asarray(T, np.float64)
    if X.ndim != 2 or T.ndim != 2 or len(X) != len(T):
        raise ValueError(f"fit_ridge: X must be (n, d) and T (n, k) with the same n, got "
                         f"{X.shape} and {T.shape}")
    if len(X) == 0:
        return np.zeros((X.shape[1], T.shape[1])), np.zeros(T.shape[1])
    mx, mt = X.mean(axis=0), T.mean(axis=0)
    Xc, Tc = X - mx, T - mt
    A = Xc.T @ Xc + lam * np.eye(X.shape[1])
    W = np.linalg.solve(A, Xc.T @ Tc)
    return W, mt - mx @ W


def assign_regions(boxes, gt_boxes, gt_labels):
    """For regions (K, 4) and objects (G, 4) with labels (G,): (max IoU (K,), index of that
    object (K,), IoU with the nearest object of each class as (K, max label) columns for
    labels 1..max)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    gt = np.asarray(gt_boxes, np.float32).reshape(-1, 4)
    labels = np.asarray(gt_labels).reshape(-1)
    if len(gt) == 0:
        return np.zeros(len(boxes), np.float32), np.zeros(len(boxes), np.int64), None
    iou = box_iou(boxes, gt)
    return iou.max(axis=1), iou.argmax(axis=1), iou


class RegionDetector(nn.Module):
    """What R-CNN and SPPNet share: the SVMs and box regressors on top of region features,
    the fine-tuning loss, and detection. A subclass gives region_features (how the features
    of K regions of one image are computed) and the module holding fc6/fc7 + classifier."""

    box_coder = BoxCoder((1.0, 1.0, 1.0, 1.0))   # the paper's t_x, t_y, t_w, t_h

    def __init__(self, proposer, num_classes, fc7_dim, pool_dim, nms_thresh=0.3,
                 detections_per_img=100, score_thresh=-1.5):
        super().__init__()
        self.proposer = proposer if proposer is not None else SlidingWindowProposer()
        self.num_classes = int(num_classes)
        self.nms_thresh = float(nms_thresh)
        self.detections_per_img = int(detections_per_img)
        self.score_thresh = float(score_thresh)
        self.box_iou = 0.6        # stage 4 trains on proposals above this IoU
        k = self.num_classes - 1
        # stages 3 and 4 write these; they travel with the state dict
        self.register_buffer("svm_weight", np.zeros((k, fc7_dim), np.float32))
        self.register_buffer("svm_bias", np.zeros(k, np.float32))
        self.register_buffer("box_weight", np.zeros((k, pool_dim, 4), np.float32))
        self.register_buffer("box_bias", np.zeros((k, 4), np.float32))
        self.register_buffer("feature_scale", np.ones(2, np.float32))  # fc7, pool5

    def region_features(self, image, boxes):
        """image (C, H, W), boxes (K, 4) -> (pooled (K, D_pool), fc7 (K, D_fc7)) Tensors."""
        raise NotImplementedError

    def classify(self, fc7):
        """The fine-tuning head: fc7 Tensor (K, D) -> class scores (K, num_classes)."""
        raise NotImplementedError

    def proposals(self, image):
        """The proposer's boxes (K, 4) for an image (C, H, W). Proposals are computed once
        per image and kept (keyed by the image's bytes), as the paper precomputes them: the
        fine-tuning epochs and the feature cache see each training image many times."""
        img = np.ascontiguousarray(_np(image), np.float32)
        key = hashlib.sha1(img.tobytes()).digest() + repr(img.shape).encode()
        cache = self.__dict__.setdefault("_proposal_cache", {})
        if key not in cache:
            if len(cache) >= 20000:
                cache.clear()
            cache[key] = np.asarray(self.proposer(img), np.float32).reshape(-1, 4)
        return cache[key]

    def finetune_loss(self, images, proposals, targets, positives=32, batch=128, rng=None):
        """Stage 1's loss: softmax cross-entropy over `batch` regions drawn from these
        images' proposals and objects, `positives` of them (or fewer) with IoU >= 0.5 with an
        object (labelled with its class), the rest background (label 0)."""
        rng = rng if rng is not None else np.random.default_rng()
        pools = []
        for i, (props, t) in enumerate(zip(proposals, targets)):
            gt = _np(t["boxes"]).astype(np.float32).reshape(-1, 4)
            boxes = np.concatenate([props, gt])
            best, arg, _ = assign_regions(boxes, gt, _np(t["labels"]))
            labels = np.where(best >= 0.5, _np(t["labels"]).reshape(-1)[arg] if len(gt)
                              else 0, 0).astype(np.int64)
            pools.append((i, boxes, labels))
        pos = [(i, j) for i, b, lab in pools for j in np.flatnonzero(lab > 0)]
        neg = [(i, j) for i, b, lab in pools for j in np.flatnonzero(lab == 0)]
        n_pos = min(positives, len(pos))
        pick = [pos[k] for k in rng.permutation(len(pos))[:n_pos]] + \
               [neg[k] for k in rng.permutation(len(neg))[:batch - n_pos]]
        chosen, labels = [], []
        for i, _, _ in pools:
            js = np.array([j for ii, j in pick if ii == i], np.int64)
            if len(js):
                chosen.append((images[i], pools[i][1][js]))
                labels.append(pools[i][2][js])
        logits = self.classify(self.batch_fc7(chosen))
        return F.cross_entropy(logits, Tensor(np.concatenate(labels)))

    def batch_fc7(self, chosen):
        """fc7 (sum K_i, D) of the regions of several images, chosen = [(image, boxes)]."""
        feats = [self.region_features(image, boxes)[1] for image, boxes in chosen]
        return cat(feats, 0) if len(feats) > 1 else feats[0]

    def forward(self, images, targets=None):
        """Training: {"loss_classifier"} (stage 1, the fine-tuning softmax); the SVM and
        regression stages are not trained by gradients (scratchnet.detection.rcnn runs them).
        Evaluation: one dict per image with "boxes" (D, 4) float32, "scores" (D,) float32 (SVM
        margins), "labels" (D,) int64."""
        if self.training:
            if targets is None:
                raise ValueError(f"{type(self).__name__}: training mode needs targets")
            return {"loss_classifier": self.finetune_loss(
                images, [self.proposals(im) for im in images], targets)}
        return [self.detect(im) for im in images]

    def scores_and_boxes(self, boxes, pooled, fc7):
        """All classes for K regions from their features (arrays pooled (K, D_pool) and
        fc7 (K, D_fc7)): (SVM scores (K, k), regressed boxes (K, k, 4))."""
        pooled = np.asarray(pooled) * self.feature_scale.numpy()[1]
        fc7 = np.asarray(fc7) * self.feature_scale.numpy()[0]
        scores = fc7 @ self.svm_weight.numpy().T + self.svm_bias.numpy()
        deltas = np.einsum("kd,cdj->kcj", pooled, self.box_weight.numpy()) + \
            self.box_bias.numpy()
        decoded = self.box_coder.decode_single(
            deltas.reshape(len(boxes), -1).astype(np.float32), boxes)
        return scores, decoded.reshape(len(boxes), -1, 4)

    def postprocess(self, boxes, pooled, fc7, image_size):
        """Detections from K proposals (K, 4) and their features: every class's SVM score,
        that class's regressed box clipped to image_size (H, W), per-class NMS, best first,
        at most detections_per_img."""
        empty = {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32),
                 "labels": np.zeros(0, np.int64)}
        if len(boxes) == 0:
            return empty
        scores, moved = self.scores_and_boxes(boxes, pooled, fc7)
        k = scores.shape[1]
        labels = np.tile(np.arange(1, k + 1), len(boxes))
        flat_boxes = clip_boxes_to_image(moved.reshape(-1, 4), image_size)
        flat_scores = scores.reshape(-1).astype(np.float32)
        keep = np.flatnonzero((flat_scores > self.score_thresh)
                              & (flat_boxes[:, 2] > flat_boxes[:, 0])
                              & (flat_boxes[:, 3] > flat_boxes[:, 1]))
        if len(keep) == 0:
            return empty
        kept = batched_nms(flat_boxes[keep], flat_scores[keep], labels[keep], self.nms_thresh)
        kept = keep[np.asarray(kept)[:self.detections_per_img]]
        return {"boxes": flat_boxes[kept].astype(np.float32),
                "scores": flat_scores[kept], "labels": labels[kept].astype(np.int64)}

    def detect(self, image):
        """One image (C, H, W) -> {"boxes", "scores", "labels"}: the proposals' features,
        then postprocess."""
        img = _np(image)
        boxes = self.proposals(img)
        if len(boxes) == 0:
            return self.postprocess(boxes, None, None, img.shape[-2:])
        with no_grad():
            pooled, fc7 = self.region_features(img, boxes)
        return self.postprocess(boxes, pooled.numpy(), fc7.numpy(), img.shape[-2:])


class RCNN(RegionDetector):
    """R-CNN: every proposal is warped (with context) and run through the CNN on its own.

    RCNN(cnn=None, proposer=None, num_classes=11, warp_size=32, context=None)
    context=None scales the paper's 16 pixels at 227 to warp_size (2 at 32).
    `chunk` regions go through the CNN per forward call (memory, not the result)."""

    def __init__(self, cnn=None, proposer=None, num_classes: int = 11, in_channels: int = 1,
                 warp_size: int = 32, context=None, chunk: int = 512, **kwargs):
        cnn = cnn if cnn is not None else RegionCNN(in_channels, num_classes, warp_size)
        pool_dim = cnn.fc[0].in_features
        super().__init__(proposer, num_classes, cnn.fc[-2].out_features, pool_dim, **kwargs)
        self.cnn = cnn
        self.warp_size = int(warp_size)
        self.context = scaled_context(warp_size) if context is None else int(context)
        self.chunk = int(chunk)

    def region_features(self, image, boxes):
        crops = warp_regions(image, boxes, self.warp_size, self.context)
        if len(crops) <= self.chunk:
            return self.cnn.extract(Tensor(crops))
        parts = [self.cnn.extract(Tensor(crops[i:i + self.chunk]))
                 for i in range(0, len(crops), self.chunk)]
        return cat([p[0] for p in parts], 0), cat([p[1] for p in parts], 0)

    def batch_fc7(self, chosen):
        # one forward pass over all the batch's crops: BatchNorm then normalises over the
        # whole batch of 128 (32 positive), not over each image's handful of crops
        crops = np.concatenate([warp_regions(image, boxes, self.warp_size, self.context)
                                for image, boxes in chosen])
        return self.cnn.extract(Tensor(crops))[1]

    def classify(self, fc7):
        return self.cnn.classifier(fc7)


def feature_norm_scale(features, target: float = FEATURE_NORM) -> float:
    """The factor that makes the mean L2 norm of rows (n, d) equal `target` (the paper's
    code scales its features to mean norm 20 before the SVMs and the regressors)."""
    norms = np.linalg.norm(np.asarray(features, np.float64), axis=1)
    mean = float(norms.mean()) if len(norms) else 0.0
    return target / mean if mean > 0 else 1.0


def regression_pairs(boxes, gt_boxes, gt_labels, threshold=0.6):
    """Box-regression training pairs of one image: proposals whose best object overlaps them
    with IoU > threshold. -> (indices into boxes (P,), their objects' boxes (P, 4),
    labels (P,), targets (P, 4) = (t_x, t_y, t_w, t_h))."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    best, arg, _ = assign_regions(boxes, gt_boxes, gt_labels)
    idx = np.flatnonzero(best > threshold)
    gt = np.asarray(gt_boxes, np.float32).reshape(-1, 4)[arg[idx]]
    labels = np.asarray(gt_labels).reshape(-1)[arg[idx]] if len(idx) else \
        np.zeros(0, np.int64)
    targets = RegionDetector.box_coder.encode_single(gt, boxes[idx]) if len(idx) else \
        np.zeros((0, 4), np.float32)
    return idx, gt, labels.astype(np.int64), np.asarray(targets, np.float32)


__all__ = ["RCNN", "RegionCNN", "RegionDetector", "SlidingWindowProposer",
           "SelectiveSearchProposer", "make_proposer", "context_boxes", "warp_regions",
           "scaled_context", "train_linear_svm", "hinge_objective", "svm_with_hard_negatives",
           "fit_ridge", "assign_regions", "regression_pairs", "feature_norm_scale"]
