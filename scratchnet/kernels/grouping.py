"""Selective search's hierarchical grouping (Uijlings et al., IJCV 2013, algorithm 1) on a
region adjacency graph.

Start from the n segments of a Felzenszwalb-Huttenlocher segmentation; repeatedly merge the
two neighbouring regions with the highest similarity into one new region, until one region
(the whole image) is left. That makes 2n - 1 regions: ids 0..n-1 are the segments, id n + t
is the region made by merge t.

The open pairs sit in a max-heap of (similarity, a, b); a pair whose region has since been
merged is stale and skipped when it comes up (lazy deletion). Neighbour lists are written
once, when a region is born; an id in an old list that has since been merged is followed to
the region that swallowed it (`merged_into`, a union-find over ids), so no list is ever
updated in place.
"""
from __future__ import annotations

import heapq

import numpy as np

from ._jit import jit


@jit
def region_stats(labels, n, colour_bins, n_colour, texture_bins, n_texture):
    """Per-segment size, box and L1-normalised histograms.

    labels (H, W) int64 in 0..n-1; colour_bins (H, W, Cc) int64 bin of each pixel in each
    colour channel (0..n_colour-1); texture_bins (H, W, Ct) int64 bin of each pixel in each
    (channel, orientation) (0..n_texture-1).
    Returns size (n,) float64, box (n, 4) float64 xyxy pixel edges, colour (n, Cc*n_colour),
    texture (n, Ct*n_texture) float64, each row summing to 1."""
    h, w = labels.shape
    cc, ct = colour_bins.shape[2], texture_bins.shape[2]
    size = np.zeros(n)
    box = np.empty((n, 4))
    box[:, 0] = w
    box[:, 1] = h
    box[:, 2] = 0
    box[:, 3] = 0
    colour = np.zeros((n, cc * n_colour))
    texture = np.zeros((n, ct * n_texture))
    for y in range(h):
        for x in range(w):
            r = labels[y, x]
            size[r] += 1
            box[r, 0] = min(box[r, 0], x)
            box[r, 1] = min(box[r, 1], y)
            box[r, 2] = max(box[r, 2], x + 1)
            box[r, 3] = max(box[r, 3], y + 1)
            for c in range(cc):
                colour[r, c * n_colour + colour_bins[y, x, c]] += 1
            for c in range(ct):
                texture[r, c * n_texture + texture_bins[y, x, c]] += 1
    for r in range(n):
        colour[r] /= colour[r].sum()
        texture[r] /= texture[r].sum()
    return size, box, colour, texture


@jit
def adjacent_pairs(labels):
    """Pairs (a, b), a < b, of segments that touch (8-neighbourhood, as the segmentation
    graph), each once: (P, 2) int64 in lexicographic order."""
    h, w = labels.shape
    n = labels.max() + 1
    seen = set()
    for y in range(h):
        for x in range(w):
            a = labels[y, x]
            for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
                yy, xx = y + dy, x + dx
                if yy >= h or xx < 0 or xx >= w:
                    continue
                b = labels[yy, xx]
                if a != b:
                    seen.add(min(a, b) * n + max(a, b))
    codes = np.empty(len(seen), np.int64)
    i = 0
    for c in seen:
        codes[i] = c
        i += 1
    codes.sort()
    pairs = np.empty((codes.shape[0], 2), np.int64)
    pairs[:, 0] = codes // n
    pairs[:, 1] = codes % n
    return pairs


@jit
def similarity(sa, sb, ba, bb, ca, cb, ta, tb, image_size, weights):
    """s(a, b) = w0 s_colour + w1 s_texture + w2 s_size + w3 s_fill (the paper's eq. 1-5):
    histogram intersections sum_k min(c_a^k, c_b^k) and sum_k min(t_a^k, t_b^k);
    size 1 - (|a| + |b|) / |image|; fill 1 - (|box(a u b)| - |a| - |b|) / |image|."""
    s = 0.0
    if weights[0] != 0:
        s += weights[0] * np.minimum(ca, cb).sum()
    if weights[1] != 0:
        s += weights[1] * np.minimum(ta, tb).sum()
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
def group(size, box, colour, texture, pairs, image_size, weights):
    """Merge until one region is left (or no neighbouring pair remains).

    size (n,), box (n, 4), colour (n, Dc), texture (n, Dt): the segments (region_stats);
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
    heap = [(-1.0, 0, 0)]                    # typed by example, removed below
    heap.pop()
    for p in range(pairs.shape[0]):
        a, b = pairs[p, 0], pairs[p, 1]
        s = similarity(size[a], size[b], boxes[a], boxes[b], colour[a], colour[b],
                       texture[a], texture[b], image_size, weights)
        heap.append((-s, a, b))
    heapq.heapify(heap)
    merges = np.empty((n - 1, 2), np.int64)
    sims = np.empty(n - 1)
    mark = np.full(total, -1, np.int64)
    new = n
    while len(heap) > 0 and new < total:
        neg, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue
        sa, sb = slot[a], slot[b]
        na, nb = size[sa], size[sb]
        colour[sa] = (na * colour[sa] + nb * colour[sb]) / (na + nb)
        texture[sa] = (na * texture[sa] + nb * texture[sb]) / (na + nb)
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
        for q in range(nb_start[new], pos):
            r = pool[q]
            sr = slot[r]
            s = similarity(size[sa], size[sr], boxes[new], boxes[r], colour[sa], colour[sr],
                           texture[sa], texture[sr], image_size, weights)
            heapq.heappush(heap, (-s, min(new, r), max(new, r)))
        new += 1
    m = new - n
    return boxes[:new], merges[:m], sims[:m]
