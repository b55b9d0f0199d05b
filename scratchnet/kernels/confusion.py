"""Confusion-matrix counting for segmentation: one pass over the pixels, a bincount of
(target, prediction) pairs."""
from __future__ import annotations

from ._jit import jit


@jit
def confusion_counts(pred, target, num_classes, ignore_index, out):
    """Add each pixel's (target, pred) pair to out (K, K) int64, skipping pixels whose
    target is ignore_index. pred, target (P,) int64. Returns -1, or the position of the
    first pixel whose target or prediction lies outside [0, K) (counting stops there)."""
    for i in range(pred.shape[0]):
        t = target[i]
        if t == ignore_index:
            continue
        p = pred[i]
        if t < 0 or t >= num_classes or p < 0 or p >= num_classes:
            return i
        out[t, p] += 1
    return -1
