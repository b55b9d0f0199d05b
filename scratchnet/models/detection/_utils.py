"""The two bookkeeping steps every two-stage detector shares (torchvision's
models.detection._utils): matching boxes to ground-truth objects, and sampling a balanced
mini-batch of them.

    matcher = Matcher(0.5, 0.1)             # Fast R-CNN: fg IoU >= 0.5, 0.1 <= bg < 0.5
    matched = matcher(box_iou(gt_boxes, proposals))     # (N,): gt index, -1 or -2
    sampler = BalancedPositiveNegativeSampler(64, 0.25)
    pos_masks, neg_masks = sampler([labels_of_image_0, labels_of_image_1])
"""
from __future__ import annotations

import numpy as np

from ... import Tensor
from ...random import get_generator


def _array(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class Matcher:
    """Assign each prediction (anchor, proposal) to the ground-truth box it overlaps most.

    match_quality_matrix (M, N): M ground-truth boxes x N predictions, usually their IoU.
    Returns matches (N,) int64: for prediction n,

    - the index m of the ground-truth box with the highest quality (the first one on ties)
      when that quality is >= high_threshold;
    - BETWEEN_THRESHOLDS (-2) when it is in [low_threshold, high_threshold);
    - BELOW_LOW_THRESHOLD (-1) when it is < low_threshold.

    allow_low_quality_matches=True (Faster R-CNN's RPN: "the anchor with the highest IoU with
    a ground-truth box is positive"): for each ground-truth box, every prediction that reaches
    that box's highest quality keeps its best match even when it is below high_threshold, so
    that no object is left without a positive.
    """

    BELOW_LOW_THRESHOLD = -1
    BETWEEN_THRESHOLDS = -2

    def __init__(self, high_threshold: float, low_threshold: float,
                 allow_low_quality_matches: bool = False):
        if low_threshold > high_threshold:
            raise ValueError(f"Matcher: low_threshold must be <= high_threshold, got "
                             f"low {low_threshold} > high {high_threshold}")
        self.high_threshold = float(high_threshold)
        self.low_threshold = float(low_threshold)
        self.allow_low_quality_matches = bool(allow_low_quality_matches)

    def __call__(self, match_quality_matrix):
        q = _array(match_quality_matrix)
        if q.ndim != 2:
            raise ValueError(f"Matcher: match_quality_matrix must be (M ground-truth boxes, "
                             f"N predictions), got shape {tuple(q.shape)}")
        if q.shape[0] == 0:
            # torchvision raises here too: with no object there is nothing to match to
            raise ValueError("Matcher: no ground-truth boxes available for one of the "
                             "images during training (the matrix has 0 rows)")
        if q.shape[1] == 0:
            return np.zeros(0, np.int64)
        matches = np.argmax(q, axis=0).astype(np.int64)     # first maximum on ties
        matched_vals = q[matches, np.arange(q.shape[1])]
        all_matches = matches.copy()
        below = matched_vals < self.low_threshold
        between = (matched_vals >= self.low_threshold) & (matched_vals < self.high_threshold)
        matches[below] = self.BELOW_LOW_THRESHOLD
        matches[between] = self.BETWEEN_THRESHOLDS
        if self.allow_low_quality_matches:
            self.set_low_quality_matches_(matches, all_matches, q)
        return matches

    @staticmethod
    def set_low_quality_matches_(matches, all_matches, match_quality_matrix):
        """For each ground-truth box, give every prediction that ties for its highest
        quality its original best match back (in place)."""
        q = match_quality_matrix
        best_per_gt = q.max(axis=1)
        _, preds = np.nonzero(q == best_per_gt[:, None])
        matches[preds] = all_matches[preds]

    def __repr__(self):
        return (f"Matcher(high_threshold={self.high_threshold}, "
                f"low_threshold={self.low_threshold}, "
                f"allow_low_quality_matches={self.allow_low_quality_matches})")


class BalancedPositiveNegativeSampler:
    """Sample at most batch_size_per_image predictions per image, a positive_fraction of
    them positive when there are enough positives (the rest negatives).

    Called with a list of per-image label arrays (N_i,): >= 1 positive, 0 negative, -1
    ignored. Returns (pos_masks, neg_masks): two lists of (N_i,) bool arrays marking the
    chosen positives and negatives. With P positives and Q negatives available,
    num_pos = min(P, int(batch_size_per_image * positive_fraction)) and
    num_neg = min(Q, batch_size_per_image - num_pos), each drawn uniformly without
    replacement (Fast R-CNN: 64 RoIs per image, 25% foreground; the RPN: 256 anchors, 1:1).
    """

    def __init__(self, batch_size_per_image: int, positive_fraction: float, generator=None):
        if int(batch_size_per_image) != batch_size_per_image or batch_size_per_image < 1:
            raise ValueError(f"BalancedPositiveNegativeSampler: batch_size_per_image must be "
                             f"a whole number >= 1, got {batch_size_per_image!r}")
        if not 0.0 <= positive_fraction <= 1.0:
            raise ValueError(f"BalancedPositiveNegativeSampler: positive_fraction must be in "
                             f"[0, 1], got {positive_fraction!r}")
        self.batch_size_per_image = int(batch_size_per_image)
        self.positive_fraction = float(positive_fraction)
        self.generator = generator

    def __call__(self, matched_idxs):
        rng = get_generator(self.generator)
        pos_masks, neg_masks = [], []
        for labels in matched_idxs:
            labels = _array(labels).reshape(-1)
            positive = np.flatnonzero(labels >= 1)
            negative = np.flatnonzero(labels == 0)
            num_pos = min(len(positive), int(self.batch_size_per_image *
                                             self.positive_fraction))
            num_neg = min(len(negative), self.batch_size_per_image - num_pos)
            pos = np.zeros(len(labels), bool)
            neg = np.zeros(len(labels), bool)
            pos[rng.permutation(positive)[:num_pos]] = True
            neg[rng.permutation(negative)[:num_neg]] = True
            pos_masks.append(pos)
            neg_masks.append(neg)
        return pos_masks, neg_masks

    def __repr__(self):
        return (f"BalancedPositiveNegativeSampler(batch_size_per_image="
                f"{self.batch_size_per_image}, positive_fraction={self.positive_fraction})")
