"""Selective search's hierarchical grouping (Uijlings et al., IJCV 2013, algorithm 1) on a
region adjacency graph.

Start from the n segments of a Felzenszwalb-Huttenlocher segmentation; repeatedly merge the
two neighbouring regions with the highest similarity into one new region, until one region
(the whole image) is left. That makes 2n - 1 regions: ids 0..n-1 are the segments, id n + t
is the region made by merge t.

The open pairs sit in a binary heap ordered by (-similarity, a, b), so the most similar pair
comes first and ties go to the lowest ids; a pair whose region has since been merged is
stale and skipped when it comes up (lazy deletion). Neighbour lists are written
once, when a region is born; an id in an old list that has since been merged is followed to
the region that swallowed it (`merged_into`, a union-find over ids), so no list is ever
updated in place.
"""
from __future__ import annotations

import numpy as np

from ._jit import jit


@jit
def _intersection(p, q):
    """Histogram intersection sum_k min(p_k, q_k)."""
    s = 0.0
    for k in range(p.shape[0]):
        s += min(p[k], q[k])
    return s


@jit
def _mix(h, a, b, na, nb):
    """Row a <- the size-weighted mean of rows a and b (the merged region's histogram)."""
    for k in range(h.shape[1]):
        h[a, k] = (na * h[a, k] + nb * h[b, k]) / (na + nb)


@jit
def similarity(sa, sb, ba, bb, ca, cb, ta, tb, image_size, weights):
    """s(a, b) = w0 s_colour + w1 s_texture + w2 s_size + w3 s_fill (the paper's eq. 1-5):
    histogram intersections sum_k min(c_a^k, c_b^k) and sum_k min(t_a^k, t_b^k);
    size 1 - (|a| + |b|) / |image|; fill 1 - (|box(a u b)| - |a| - |b|) / |image|."""
    s = 0.0
    if weights[0] != 0:
        s += weights[0] * _intersection(ca, cb)
    if weights[1] != 0:
        s += weights[1] * _intersection(ta, tb)
    if weights[2] != 0:
        s += weights[2] * (1.0 - (sa + sb) / image_size)
    if weights[3] != 0:
        bw = max(ba[2], bb[2]) - min(ba[0], bb[0])
        bh = max(ba[3], bb[3]) - min(ba[1], bb[1])
        s += weights[3] * (1.0 - (bw * bh - sa - sb) / image_size)
    return s


@jit
def _resolve(merged_into, i):
    while merged_into[i] != i:
        i = merged_into[i]
    return i


@jit
def _before(keys, ids, i, j):
    """Heap entry i comes before entry j: smaller key, then smaller (a, b)."""
    if keys[i] != keys[j]:
        return keys[i] < keys[j]
    if ids[i, 0] != ids[j, 0]:
        return ids[i, 0] < ids[j, 0]
    return ids[i, 1] < ids[j, 1]


@jit
def _swap(keys, ids, i, j):
    keys[i], keys[j] = keys[j], keys[i]
    for c in range(2):
        ids[i, c], ids[j, c] = ids[j, c], ids[i, c]


@jit
def _sift_down(keys, ids, i, n):
    while True:
        left, right, top = 2 * i + 1, 2 * i + 2, i
        if left < n and _before(keys, ids, left, top):
            top = left
        if right < n and _before(keys, ids, right, top):
            top = right
        if top == i:
            return
        _swap(keys, ids, i, top)
        i = top


@jit
def _sift_up(keys, ids, i):
    while i > 0:
        parent = (i - 1) // 2
        if not _before(keys, ids, i, parent):
            return
        _swap(keys, ids, i, parent)
        i = parent


@jit
def group(size, box, colour, texture, pairs, image_size, weights):
    """Merge until one region is left (or no neighbouring pair remains).

    size (n,), box (n, 4), colour (n, Dc), texture (n, Dt): the segments;
    pairs (P, 2) the adjacent segments; weights (4,) for colour, texture, size, fill.
    Returns boxes (2n-1, 4) float64 of every region by id, merges (m, 2) int64 the ids
    merged at each step (their new region has id n + step), and sims (m,) the similarity
    of each merge; m = n - 1 for a connected graph."""
    n = size.shape[0]
    total = 2 * n - 1
    size = size.copy()
    colour = colour.copy()
    texture = texture.copy()
    boxes = np.zeros((total, 4))
    boxes[:n] = box
    slot = np.arange(total)                  # row of size/colour/texture holding region id
    merged_into = np.arange(total)
    alive = np.zeros(total, np.bool_)
    alive[:n] = True
    # neighbour lists in one pool: ids nb_pool[nb_start[r]: nb_start[r] + nb_len[r]]
    counts = np.zeros(n, np.int64)
    for p in range(pairs.shape[0]):
        counts[pairs[p, 0]] += 1
        counts[pairs[p, 1]] += 1
    nb_start = np.zeros(total, np.int64)
    nb_len = np.zeros(total, np.int64)
    pool = np.empty(max(4 * pairs.shape[0], 16), np.int64)
    pos = 0
    for r in range(n):
        nb_start[r] = pos
        pos += counts[r]
    for p in range(pairs.shape[0]):
        a, b = pairs[p, 0], pairs[p, 1]
        pool[nb_start[a] + nb_len[a]] = b
        nb_len[a] += 1
        pool[nb_start[b] + nb_len[b]] = a
        nb_len[b] += 1
    # the heap: keys (-similarity) and ids (a, b) of its n_heap entries
    keys = np.empty(max(2 * pairs.shape[0], 16))
    ids = np.empty((keys.shape[0], 2), np.int64)
    n_heap = pairs.shape[0]
    for p in range(n_heap):
        a, b = pairs[p, 0], pairs[p, 1]
        keys[p] = -similarity(size[a], size[b], boxes[a], boxes[b], colour[a], colour[b],
                              texture[a], texture[b], image_size, weights)
        ids[p, 0], ids[p, 1] = a, b
    for i in range(n_heap // 2 - 1, -1, -1):
        _sift_down(keys, ids, i, n_heap)
    merges = np.empty((n - 1, 2), np.int64)
    sims = np.empty(n - 1)
    mark = np.full(total, -1, np.int64)
    new = n
    while n_heap > 0 and new < total:
        neg, a, b = keys[0], ids[0, 0], ids[0, 1]
        n_heap -= 1
        _swap(keys, ids, 0, n_heap)
        _sift_down(keys, ids, 0, n_heap)
        if not (alive[a] and alive[b]):
            continue
        sa, sb = slot[a], slot[b]
        na, nb = size[sa], size[sb]
        _mix(colour, sa, sb, na, nb)
        _mix(texture, sa, sb, na, nb)
        size[sa] = na + nb
        for c in range(2):
            boxes[new, c] = min(boxes[a, c], boxes[b, c])
            boxes[new, c + 2] = max(boxes[a, c + 2], boxes[b, c + 2])
        slot[new] = sa
        alive[a] = False
        alive[b] = False
        alive[new] = True
        merged_into[a] = new
        merged_into[b] = new
        merges[new - n, 0] = a
        merges[new - n, 1] = b
        sims[new - n] = -neg
        # the new region's neighbours: those of a and of b, followed to the living region
        need = pos + nb_len[a] + nb_len[b]
        if need > pool.shape[0]:
            grown = np.empty(max(2 * pool.shape[0], need), np.int64)
            grown[:pos] = pool[:pos]
            pool = grown
        nb_start[new] = pos
        mark[new] = new
        for old in (a, b):
            for q in range(nb_start[old], nb_start[old] + nb_len[old]):
                r = _resolve(merged_into, pool[q])
                if mark[r] != new:
                    mark[r] = new
                    pool[pos] = r
                    pos += 1
        nb_len[new] = pos - nb_start[new]
        if n_heap + nb_len[new] > keys.shape[0]:
            cap = max(2 * keys.shape[0], n_heap + nb_len[new])
            k2, i2 = np.empty(cap), np.empty((cap, 2), np.int64)
            k2[:n_heap], i2[:n_heap] = keys[:n_heap], ids[:n_heap]
            keys, ids = k2, i2
        for q in range(nb_start[new], pos):
            r = pool[q]
            sr = slot[r]
            keys[n_heap] = -similarity(size[sa], size[sr], boxes[new], boxes[r], colour[sa],
                                       colour[sr], texture[sa], texture[sr], image_size,
                                       weights)
            ids[n_heap, 0], ids[n_heap, 1] = min(new, r), max(new, r)
            _sift_up(keys, ids, n_heap)
            n_heap += 1
        new += 1
    m = new - n
    return boxes[:new], merges[:m], sims[:m]
