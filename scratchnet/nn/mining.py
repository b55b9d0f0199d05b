"""Triplet mining: which (anchor, positive, negative) triplets of a batch the triplet loss sees.

Most triplets of a batch are already easy (the negative is far beyond the positive) and give
zero loss and zero gradient, so training on random triplets stalls. FaceNet (Schroff et al.
2015) chooses them within each mini-batch from the current embeddings:

    random      every anchor with one random positive and one random negative
    batch-hard  every anchor with its farthest positive and its closest negative
                (Hermans, Beyer and Leibe 2017, "In Defense of the Triplet Loss")
    semi-hard   every (anchor, positive) pair with the closest negative that is still farther
                than the positive: d(a, p) < d(a, n) (FaceNet section 3.2). When no negative is
                that far, the farthest negative is used (the least hard one).

Distances are squared Euclidean, as in FaceNet's loss. Mining looks at values only (no
gradient flows through the choice); the loss is then computed on the chosen rows.
"""
from __future__ import annotations

import numpy as np

STRATEGIES = ("random", "batch-hard", "semi-hard")


def squared_distance_matrix(embeddings):
    """(N, D) -> (N, N) matrix of ||e_i - e_j||^2, as a plain array (exact zeros on the
    diagonal; tiny negatives from rounding clipped to 0)."""
    e = np.asarray(getattr(embeddings, "data", embeddings), dtype=np.float64)
    sq = (e * e).sum(axis=1)
    d = sq[:, None] + sq[None, :] - 2.0 * e @ e.T
    np.fill_diagonal(d, 0.0)
    return np.maximum(d, 0.0)


def mine_triplets(embeddings, labels, strategy="semi-hard", rng=None):
    """Indices (a, p, n), three int64 arrays of one length T, of triplets chosen in a batch.

    embeddings (N, D) array or Tensor, labels (N,) ints. Anchors without a positive (a label
    seen once) or without a negative (one label in the batch) are skipped. T is the number of
    usable anchors for 'random' and 'batch-hard', the number of (anchor, positive) pairs for
    'semi-hard'. rng: a numpy Generator (or seed) for 'random'.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"mine_triplets: strategy must be one of {', '.join(STRATEGIES)}, "
                         f"got {strategy!r}")
    labels = np.asarray(getattr(labels, "data", labels)).ravel()
    d = squared_distance_matrix(embeddings)
    n = len(labels)
    if d.shape[0] != n:
        raise ValueError(f"mine_triplets: {d.shape[0]} embeddings but {n} labels")
    same = labels[:, None] == labels[None, :]
    pos_mask = same & ~np.eye(n, dtype=bool)
    neg_mask = ~same
    usable = pos_mask.any(axis=1) & neg_mask.any(axis=1)
    anchors = np.flatnonzero(usable)
    if strategy == "random":
        rng = np.random.default_rng(rng)
        p = np.array([rng.choice(np.flatnonzero(pos_mask[i])) for i in anchors], np.int64)
        q = np.array([rng.choice(np.flatnonzero(neg_mask[i])) for i in anchors], np.int64)
        return anchors.astype(np.int64), p, q
    if strategy == "batch-hard":
        p = np.where(pos_mask, d, -np.inf)[anchors].argmax(axis=1)
        q = np.where(neg_mask, d, np.inf)[anchors].argmin(axis=1)
        return anchors.astype(np.int64), p.astype(np.int64), q.astype(np.int64)
    a_out, p_out, n_out = [], [], []
    for i in anchors:
        negs = np.flatnonzero(neg_mask[i])
        for j in np.flatnonzero(pos_mask[i]):
            farther = negs[d[i, negs] > d[i, j]]
            if len(farther):
                k = farther[np.argmin(d[i, farther])]
            else:
                k = negs[np.argmax(d[i, negs])]
            a_out.append(i)
            p_out.append(j)
            n_out.append(k)
    return (np.array(a_out, np.int64), np.array(p_out, np.int64), np.array(n_out, np.int64))
