"""Cases for the metric-learning functions (scratchnet/ops/metric_learning.py), against
PyTorch: F.normalize, F.cosine_similarity and F.cosine_embedding_loss directly; the
contrastive loss and FaceNet's squared triplet loss, which PyTorch lacks, against their
formulas written with torch ops (pairwise_distance, clamp). The functions are compositions
of registered ops, so each case names the op its gradient runs through."""
import numpy as np

import scratchnet.nn.functional as F

from . import Case, Inp

N = Inp


def _tf(t):
    return t.nn.functional


def _pairs(shape, values):
    """Two embeddings and a label per pair drawn from `values` (both labels present)."""
    def draw(rng):
        t = rng.choice(values, shape[:-1]).astype(np.int64)
        if t.ndim:
            t[0], t[-1] = values[0], values[-1]
        return [(rng.standard_normal(shape), True), (rng.standard_normal(shape), True),
                (t, False)]
    return draw


def _close_pairs(shape, values, spread=0.4):
    """Pairs at distances on both sides of margin 1 (some dissimilar pairs inside it)."""
    def draw(rng):
        a = rng.standard_normal(shape)
        b = a + spread * rng.standard_normal(shape)
        t = rng.choice(values, shape[:-1]).astype(np.int64)
        if t.ndim:
            t[0], t[-1] = values[0], values[-1]
        return [(a, True), (b, True), (t, False)]
    return draw


def _torch_contrastive(t, a, b, y, margin=1.0, reduction="mean"):
    d = _tf(t).pairwise_distance(a, b)
    y = y.to(a.dtype)
    loss = 0.5 * (y * d ** 2 + (1 - y) * (margin - d).clamp(min=0) ** 2)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _torch_sq_triplet(t, a, p, n, margin=0.2, reduction="mean"):
    loss = (((a - p) ** 2).sum(-1) - ((a - n) ** 2).sum(-1) + margin).clamp(min=0)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _triplets(shape, scale=0.5):
    """Triplets whose squared-distance gaps straddle the margin: some easy, some hard."""
    def draw(rng):
        a = rng.standard_normal(shape)
        return [(a, True), (a + scale * rng.standard_normal(shape), True),
                (a + scale * rng.standard_normal(shape), True)]
    return draw


CASES = [
    Case("normalize_default", "div", lambda x: F.normalize(x), [N((4, 5))],
         lambda t, x: _tf(t).normalize(x)),
    Case("normalize_p1_dim0", "div", lambda x: F.normalize(x, p=1, dim=0), [N((3, 4))],
         lambda t, x: _tf(t).normalize(x, p=1, dim=0)),
    Case("normalize_p3_last_4d", "div", lambda x: F.normalize(x, p=3, dim=-1),
         [N((2, 3, 2, 4))], lambda t, x: _tf(t).normalize(x, p=3, dim=-1)),
    Case("normalize_tiny_rows_hit_eps", "div", lambda x: F.normalize(x * 1e-3, eps=0.01),
         [N((3, 4))], lambda t, x: _tf(t).normalize(x * 1e-3, eps=0.01)),
    Case("cosine_similarity_default", "div", lambda a, b: F.cosine_similarity(a, b),
         [N((5, 4)), N((5, 4))], lambda t, a, b: _tf(t).cosine_similarity(a, b)),
    Case("cosine_similarity_dim0_bcast", "div",
         lambda a, b: F.cosine_similarity(a, b, dim=-1), [N((4, 3)), N((1, 3))],
         lambda t, a, b: _tf(t).cosine_similarity(a, b, dim=-1)),
    Case("cosine_similarity_images_dim1", "div", lambda a, b: F.cosine_similarity(a, b),
         [N((2, 3, 2, 2)), N((2, 3, 2, 2))],
         lambda t, a, b: _tf(t).cosine_similarity(a, b)),
    Case("cosine_embedding_mean", "div",
         lambda a, b, y: F.cosine_embedding_loss(a, b, y), _pairs((6, 4), [-1, 1]),
         lambda t, a, b, y: _tf(t).cosine_embedding_loss(a, b, y)),
    Case("cosine_embedding_margin_none", "div",
         lambda a, b, y: F.cosine_embedding_loss(a, b, y, margin=-0.2, reduction="none"),
         _pairs((7, 3), [-1, 1]),
         lambda t, a, b, y: _tf(t).cosine_embedding_loss(a, b, y, margin=-0.2,
                                                         reduction="none")),
    Case("cosine_embedding_margin_sum", "div",
         lambda a, b, y: F.cosine_embedding_loss(a, b, y, margin=0.3, reduction="sum"),
         _pairs((5, 6), [-1, 1]),
         lambda t, a, b, y: _tf(t).cosine_embedding_loss(a, b, y, margin=0.3,
                                                         reduction="sum")),
    Case("contrastive_mean", "pairwise_distance",
         lambda a, b, y: F.contrastive_loss(a, b, y), _close_pairs((8, 3), [0, 1]),
         lambda t, a, b, y: _torch_contrastive(t, a, b, y)),
    Case("contrastive_margin2_none", "pairwise_distance",
         lambda a, b, y: F.contrastive_loss(a, b, y, margin=2.0, reduction="none"),
         _close_pairs((6, 4), [0, 1], spread=0.8),
         lambda t, a, b, y: _torch_contrastive(t, a, b, y, 2.0, "none")),
    Case("contrastive_unbatched_sum", "pairwise_distance",
         lambda a, b, y: F.contrastive_loss(a, b, y, margin=3.0, reduction="sum"),
         _close_pairs((5,), [0, 1]),
         lambda t, a, b, y: _torch_contrastive(t, a, b, y, 3.0, "sum")),
    Case("sq_triplet_default", "sum",
         lambda a, p, n: F.squared_triplet_margin_loss(a, p, n), _triplets((8, 4)),
         lambda t, a, p, n: _torch_sq_triplet(t, a, p, n)),
    Case("sq_triplet_margin_none", "sum",
         lambda a, p, n: F.squared_triplet_margin_loss(a, p, n, margin=1.0, reduction="none"),
         _triplets((6, 3), 0.8),
         lambda t, a, p, n: _torch_sq_triplet(t, a, p, n, 1.0, "none")),
    Case("sq_triplet_unbatched_sum", "sum",
         lambda a, p, n: F.squared_triplet_margin_loss(a, p, n, margin=0.5, reduction="sum"),
         _triplets((5,), 0.8),
         lambda t, a, p, n: _torch_sq_triplet(t, a, p, n, 0.5, "sum")),
]
