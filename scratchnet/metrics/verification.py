"""Verification and identification scores (face verification, deck 002).

Verification answers "are these two images the same identity?" by thresholding a score
(a similarity, or minus a distance: higher means "same"). Sweeping the threshold traces the
ROC curve, the true-positive rate (same pairs accepted) against the false-positive rate
(different pairs accepted). Summaries of that curve:

    AUC            area under it: the probability that a random same pair scores above a
                   random different pair (ties count half)
    EER            the equal error rate, where false accepts = false rejects (FPR = 1 - TPR)
    best accuracy  the share of pairs right at the single best threshold

Identification answers "who is this?": the label of the nearest gallery embedding.

`roc_curve` returns what scikit-learn's `sklearn.metrics.roc_curve` returns (thresholds
start at +inf, collinear points dropped by default), so the two can be compared directly.
"""
from __future__ import annotations

import numpy as np


def _binary_scores(y_true, y_score, who):
    y = np.asarray(getattr(y_true, "data", y_true)).ravel()
    s = np.asarray(getattr(y_score, "data", y_score), dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{who}: y_true and y_score need one value per pair, got "
                         f"{y.size} labels and {s.size} scores")
    values = set(np.unique(y).tolist())
    if not values <= {0, 1, False, True}:
        raise ValueError(f"{who}: y_true must be 0 (different) or 1 (same), got values "
                         f"{sorted(values)}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{who}: y_score has NaN or infinite values")
    return y.astype(bool), s


def _counts(y, s):
    """(false positives, true positives, thresholds) at each distinct score, highest first:
    the counts accepted when every score >= that threshold is called "same"."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]   # last index of each distinct score
    tps = np.cumsum(y)[last]
    fps = (last + 1) - tps
    return fps, tps, s[last]


def roc_curve(y_true, y_score, drop_intermediate=True):
    """(fpr, tpr, thresholds), each (K,): the ROC curve of scores for binary labels.

    y_true (N,) 1 = same / positive, 0 = different; y_score (N,) higher = more likely same.
    thresholds decrease; thresholds[0] = +inf (nothing accepted: fpr = tpr = 0). With
    drop_intermediate, points that lie on a straight segment between neighbours are dropped
    (they change neither the plot nor the AUC)."""
    y, s = _binary_scores(y_true, y_score, "roc_curve")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"roc_curve: needs both same (1) and different (0) pairs, got "
                         f"{n_pos} same and {n_neg} different")
    fps, tps, thr = _counts(y, s)
    if drop_intermediate and fps.size > 2:
        bend = np.r_[True, (np.diff(fps, 2) != 0) | (np.diff(tps, 2) != 0), True]
        fps, tps, thr = fps[bend], tps[bend], thr[bend]
    fps, tps = np.r_[0, fps], np.r_[0, tps]
    return fps / n_neg, tps / n_pos, np.r_[np.inf, thr]


def auc(x, y):
    """Area under a curve by the trapezoid rule; x must be monotonic (an ROC's fpr is)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    dx = np.diff(x)
    if np.any(dx < 0) and np.any(dx > 0):
        raise ValueError("auc: x must be increasing or decreasing")
    area = float(np.sum(dx * (y[1:] + y[:-1]) / 2))
    return -area if np.all(dx <= 0) and np.any(dx < 0) else area


def roc_auc_score(y_true, y_score):
    """Area under the ROC curve (sklearn.metrics.roc_auc_score for binary labels)."""
    fpr, tpr, _ = roc_curve(y_true, y_score, drop_intermediate=False)
    return auc(fpr, tpr)


def equal_error_rate(y_true, y_score):
    """(eer, threshold): the error rate where the false-positive rate equals the
    false-negative rate 1 - TPR, linearly interpolated between the two ROC points around the
    crossing; threshold is the first one at which FNR <= FPR."""
    y, s = _binary_scores(y_true, y_score, "equal_error_rate")
    roc_curve(y, s)                          # the same checks (both kinds of pair present)
    fps, tps, thr = _counts(y, s)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    fps, tps, thr = np.r_[0, fps], np.r_[0, tps], np.r_[np.inf, thr]
    # FNR - FPR scaled by n_pos * n_neg: integers, so an exact crossing is found exactly
    gap = (n_pos - tps) * n_neg - fps * n_pos
    i = int(np.argmax(gap <= 0))
    fpr = fps / n_neg
    if gap[i] == 0:
        return float(fpr[i]), float(thr[i])
    t = gap[i - 1] / (gap[i - 1] - gap[i])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1])), float(thr[i])


def best_threshold_accuracy(y_true, y_score):
    """(accuracy, threshold): the largest share of pairs classified right by one rule
    "same if score >= threshold", over every threshold (the first, i.e. highest, on ties;
    +inf calls every pair different)."""
    y, s = _binary_scores(y_true, y_score, "best_threshold_accuracy")
    fps, tps, thr = _counts(y, s)
    n_pos, n = int(y.sum()), y.size
    correct = np.r_[n - n_pos, tps + (n - n_pos - fps)]   # TP + TN
    k = int(np.argmax(correct))
    return float(correct[k] / n), float(np.r_[np.inf, thr][k])


def pair_scores(emb1, emb2, metric="euclidean"):
    """Scores for pairs of embeddings (N, D), (N, D) -> (N,), higher = more alike:
    minus the Euclidean distance, or the cosine similarity."""
    a = np.asarray(getattr(emb1, "data", emb1), np.float64)
    b = np.asarray(getattr(emb2, "data", emb2), np.float64)
    if metric == "euclidean":
        return -np.sqrt(((a - b) ** 2).sum(axis=-1))
    if metric == "cosine":
        na = np.maximum(np.linalg.norm(a, axis=-1), 1e-12)
        nb = np.maximum(np.linalg.norm(b, axis=-1), 1e-12)
        return (a * b).sum(axis=-1) / (na * nb)
    raise ValueError(f"pair_scores: metric must be 'euclidean' or 'cosine', got {metric!r}")


def nearest_neighbor_top1(gallery, gallery_labels, queries, query_labels, metric="euclidean"):
    """Identification accuracy: the share of queries whose nearest gallery embedding (by
    Euclidean distance, or highest cosine) has the query's label. gallery (G, D), queries
    (Q, D). Pass the same array twice to score leave-one-out (a query is never its own
    neighbour)."""
    g = np.asarray(getattr(gallery, "data", gallery), np.float64)
    q = np.asarray(getattr(queries, "data", queries), np.float64)
    gl, ql = np.asarray(gallery_labels).ravel(), np.asarray(query_labels).ravel()
    if g.ndim != 2 or q.ndim != 2 or g.shape[1] != q.shape[1]:
        raise ValueError(f"nearest_neighbor_top1: gallery and queries must be (G, D) and "
                         f"(Q, D), got shapes {g.shape} and {q.shape}")
    if len(gl) != len(g) or len(ql) != len(q):
        raise ValueError("nearest_neighbor_top1: one label per embedding is needed")
    if metric == "euclidean":
        score = -(((q * q).sum(1)[:, None] + (g * g).sum(1)[None, :]) - 2 * q @ g.T)
    elif metric == "cosine":
        qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        gn = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        score = qn @ gn.T
    else:
        raise ValueError(f"nearest_neighbor_top1: metric must be 'euclidean' or 'cosine', "
                         f"got {metric!r}")
    if g is q or (g.shape == q.shape and np.array_equal(g, q)):
        np.fill_diagonal(score, -np.inf)
    return float(np.mean(gl[np.argmax(score, axis=1)] == ql))
