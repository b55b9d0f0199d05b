"""Semantic segmentation scores from a confusion matrix, as FCN (Long et al., 2015) reports
them: pixel accuracy, mean class accuracy, per-class and mean IoU, frequency-weighted IoU.

confusion[i, j] counts pixels of true class i predicted as class j (scikit-learn's and
torchmetrics' orientation). Pixels whose target is ignore_index (255: VOC's object borders,
DigitScenes' blended edges) are not counted at all.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..kernels import confusion as K


def _labels(x, name):
    a = x.data if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind not in "biu":
        raise TypeError(f"confusion_matrix: {name} must hold integer class indices, got "
                        f"dtype {a.dtype} (take argmax over the class axis of the scores "
                        f"first)")
    return a


def confusion_matrix(pred, target, num_classes: int, ignore_index: int = 255):
    """(K, K) int64 counts: pred and target are integer class maps of one shape, e.g.
    (N, H, W); entry [i, j] counts pixels of class i predicted as j."""
    p, t = _labels(pred, "pred"), _labels(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"confusion_matrix: pred has shape {tuple(p.shape)} but target has "
                         f"shape {tuple(t.shape)}; they must match pixel for pixel")
    p = np.ascontiguousarray(p.reshape(-1), dtype=np.int64)
    t = np.ascontiguousarray(t.reshape(-1), dtype=np.int64)
    out = np.zeros((num_classes, num_classes), np.int64)
    bad = K.confusion_counts(p, t, num_classes, ignore_index, out)
    if bad >= 0:
        where = np.unravel_index(bad, _labels(pred, "pred").shape)
        raise ValueError(f"confusion_matrix: pixel {tuple(int(i) for i in where)} has target "
                         f"{t[bad]} and prediction {p[bad]}; classes must lie in 0.."
                         f"{num_classes - 1} (num_classes={num_classes}) or the target be "
                         f"ignore_index={ignore_index}")
    return out


def _check(confusion):
    c = np.asarray(confusion)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"expected a square (K, K) confusion matrix, got shape {c.shape}")
    return c.astype(np.float64)


def pixel_accuracy(confusion) -> float:
    """Correct pixels / counted pixels: trace / sum (NaN when nothing was counted)."""
    c = _check(confusion)
    total = c.sum()
    return float(np.trace(c) / total) if total else float("nan")


def class_accuracy(confusion):
    """(K,) recall of each class, TP / (pixels of that class); NaN for absent classes."""
    c = _check(confusion)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(c) / c.sum(axis=1)


def class_iou(confusion):
    """(K,) IoU of each class, TP / (TP + FP + FN). NaN for a class that neither occurs in
    the target nor is predicted (0/0: nothing to score), so that means can skip it."""
    c = _check(confusion)
    tp = np.diag(c)
    with np.errstate(invalid="ignore", divide="ignore"):
        return tp / (c.sum(axis=0) + c.sum(axis=1) - tp)


def mean_iou(confusion) -> float:
    """Mean of class_iou over the classes that occur (target or prediction)."""
    iou = class_iou(confusion)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")


def frequency_weighted_iou(confusion) -> float:
    """Sum over classes of (pixel share of the class in the target) x IoU (FCN's f.w. IU)."""
    c = _check(confusion)
    freq = c.sum(axis=1) / c.sum()
    iou = class_iou(confusion)
    present = freq > 0
    return float((freq[present] * iou[present]).sum())
