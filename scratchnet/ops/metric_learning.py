"""Metric learning: similarities and the losses that train an embedding f(x) so that images of
one identity land close together and images of different identities far apart (deck 002,
face verification with a Siamese network).

Each function is composed of registered ops (sums, square roots, clamps, divisions), so its
gradient is the engine's; the float64 gradient checks and the PyTorch comparisons live in
tests/opcases/metric.py. Names, argument orders and defaults follow torch.nn.functional where
PyTorch has the function (normalize, cosine_similarity, cosine_embedding_loss); the two losses
PyTorch lacks get descriptive names: `contrastive_loss` (Hadsell, Chopra and LeCun 2006) and
`squared_triplet_margin_loss` (FaceNet's and deck 002's form, with squared distances), the
sibling of `triplet_margin_loss` (PyTorch's form, with plain distances).
"""
from __future__ import annotations

import math

from .loss import _float_input, _float_like, _reduction, _shape_str
from .methods import as_tensor, clamp, sqrt, where

_COSINE_EMBEDDING_EPS = 1e-12   # what ATen adds to each squared magnitude


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _norm(x, p, dim):
    """||x||_p along dim, kept as a size-1 axis."""
    if p == 2:
        return sqrt((x * x).sum(dim=dim, keepdim=True))
    if p == 1:
        return x.abs().sum(dim=dim, keepdim=True)
    return (x.abs() ** p).sum(dim=dim, keepdim=True) ** (1.0 / p)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """F.normalize: x / max(||x||_p, eps) along `dim`; any shape -> the same shape.

    FaceNet puts its embeddings on the unit hypersphere this way (||f(x)||_2 = 1), which bounds
    every squared distance to [0, 4] and so gives the triplet margin a fixed scale."""
    x = _float_input("normalize", input)
    if not (p > 0 and math.isfinite(p)):
        raise ValueError(f"normalize: p must be a positive finite number, got {p}")
    if x.ndim == 0 or not -x.ndim <= dim < x.ndim:
        raise ValueError(f"normalize: dim={dim} is out of range for an input of shape "
                         f"{_shape_str(x.shape)}")
    return x / clamp(_norm(x, float(p), dim), min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """F.cosine_similarity: (x1 . x2) / (max(||x1||, eps) max(||x2||, eps)) along `dim`;
    x1, x2 broadcastable, e.g. (N, D), (N, D) -> (N,)."""
    a = _float_input("cosine_similarity", x1, "first input")
    b = _float_like("cosine_similarity", x2, a, "second input")
    ndim = max(a.ndim, b.ndim)
    if ndim == 0 or not -ndim <= dim < ndim:
        raise ValueError(f"cosine_similarity: dim={dim} is out of range for inputs of shapes "
                         f"{_shape_str(a.shape)} and {_shape_str(b.shape)}")
    na = clamp(_norm(a, 2, dim), min=eps)
    nb = clamp(_norm(b, 2, dim), min=eps)
    return ((a / na) * (b / nb)).sum(dim=dim)


def _pairs(op, x1, x2):
    a = _float_input(op, x1, "first input")
    b = _float_like(op, x2, a, "second input")
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"{op}: the two inputs must both be (N, D) or both (D,), got shapes "
                         f"{_shape_str(a.shape)} and {_shape_str(b.shape)}")
    return a, b


def _pair_target(op, target, a, values):
    t = as_tensor(target)
    want = a.shape[:-1]
    if t.shape != want:
        raise ValueError(f"{op}: target must have one value per pair, shape {_shape_str(want)}, "
                         f"got {_shape_str(t.shape)}")
    bad = set(t.data.ravel().tolist()) - set(values)
    if bad:
        raise ValueError(f"{op}: target values must be {' or '.join(map(str, values))}, got "
                         f"{sorted(bad)}")
    return t.data.astype(a.dtype)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """F.cosine_embedding_loss: with cos = cos(x1_n, x2_n),

        l_n = 1 - cos                  if y_n = 1   (a pair that should point the same way)
        l_n = max(0, cos - margin)     if y_n = -1  (a pair that should not)

    input1, input2 (N, D) or (D,), target (N,) or () of +-1 -> scalar, or (N,) for 'none'.
    The cosine is computed as PyTorch does, (x1 . x2) / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)).
    """
    op = "cosine_embedding_loss"
    reduction = _reduction(op, reduction, size_average, reduce)
    a, b = _pairs(op, input1, input2)
    y = _pair_target(op, target, a, (-1, 1))
    eps = _COSINE_EMBEDDING_EPS
    cos = (a * b).sum(dim=-1) / sqrt(((a * a).sum(dim=-1) + eps) * ((b * b).sum(dim=-1) + eps))
    loss = where(y == 1, 1.0 - cos, clamp(cos - margin, min=0.0))
    return _reduce(loss, reduction)


def contrastive_loss(input1, input2, target, margin=1.0, eps=1e-6, reduction="mean"):
    """The contrastive loss of Hadsell, Chopra and LeCun (CVPR 2006), with
    D = ||x1 - x2 + eps||_2 (F.pairwise_distance):

        l_n = 1/2 D^2                    if y_n = 1  (same identity: pull together)
        l_n = 1/2 max(0, margin - D)^2   if y_n = 0  (different: push apart up to the margin)

    input1, input2 (N, D) or (D,), target (N,) or () of 1/0 -> scalar, or (N,) for 'none'.
    The paper writes the label the other way round (its Y = 0 for a similar pair); here 1 means
    "same", as in a verification label. Dissimilar pairs already farther apart than the margin
    cost nothing, so the embedding is not pushed to infinity.
    """
    from .loss import pairwise_distance
    op = "contrastive_loss"
    reduction = _reduction(op, reduction)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    a, b = _pairs(op, input1, input2)
    y = _pair_target(op, target, a, (0, 1))
    d = pairwise_distance(a, b, eps=eps)
    far = clamp(margin - d, min=0.0)
    loss = 0.5 * (y * d * d + (1.0 - y) * far * far)
    return _reduce(loss, reduction)


def squared_triplet_margin_loss(anchor, positive, negative, margin=0.2, reduction="mean"):
    """The triplet loss of FaceNet (Schroff et al. 2015) and deck 002, on squared distances:

        l_n = max(||a_n - p_n||^2 - ||a_n - n_n||^2 + margin, 0)

    anchor, positive, negative (N, D) or (D,) -> scalar, or (N,) for 'none'. The default
    margin is FaceNet's alpha = 0.2 for unit-length embeddings. F.triplet_margin_loss is
    PyTorch's form with unsquared distances and margin 1: the two agree on which triplets are
    easy only when the margins are matched to the distances' scale.
    """
    op = "squared_triplet_margin_loss"
    reduction = _reduction(op, reduction)
    a = _float_input(op, anchor, "anchor")
    pos = _float_like(op, positive, a, "positive")
    neg = _float_like(op, negative, a, "negative")
    if not (a.shape == pos.shape == neg.shape) or a.ndim not in (1, 2):
        raise ValueError(f"{op}: anchor, positive and negative must all be (N, D) or all (D,) "
                         f"of one size, got shapes {_shape_str(a.shape)}, "
                         f"{_shape_str(pos.shape)}, {_shape_str(neg.shape)}")
    u, v = a - pos, a - neg
    loss = clamp((u * u).sum(dim=-1) - (v * v).sum(dim=-1) + margin, min=0.0)
    return _reduce(loss, reduction)
