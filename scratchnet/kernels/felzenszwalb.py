"""Felzenszwalb-Huttenlocher graph segmentation (Efficient Graph-Based Image Segmentation,
IJCV 2004), the first step of selective search.

Every pixel is a node; each pixel is joined to its 8 neighbours by an edge weighted with the
Euclidean distance of their (smoothed) colours. Edges are visited from the lightest up; the
two components C1, C2 an edge joins are merged when its weight w is at most

    MInt(C1, C2) = min(Int(C1) + k / |C1|, Int(C2) + k / |C2|)

where Int(C) is the heaviest edge of C's minimum spanning tree. Because edges arrive sorted,
that edge is the one that last merged into C, so Int of a merged component is simply w. The
k / |C| term lets small components merge easily and makes big ones demand a clear boundary:
a larger k gives larger segments. A last pass over the same sorted edges merges every
component smaller than `min_size` into its neighbour across the lightest edge.

Components are a union-find forest (`parent`), with path halving and union by size.
"""
from __future__ import annotations

import math

import numpy as np

from ._jit import jit


def gaussian_kernel1d(sigma):
    """Normalised 1-D Gaussian taps, radius int(4 sigma + 0.5) (scipy.ndimage's default
    truncate=4). sigma <= 0 gives the single tap [1]."""
    if sigma <= 0:
        return np.ones(1)
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


@jit
def _reflect(i, n):
    """Index i folded into 0..n-1 by half-sample symmetry (d c b a | a b c d | d c b a),
    scipy.ndimage's mode "reflect"."""
    period = 2 * n
    i = i % period
    if i < 0:
        i += period
    return i if i < n else period - 1 - i


@jit
def smooth(image, taps):
    """Separable convolution of every channel with `taps` along rows then columns.
    image (H, W, C) float64, taps (2r+1,) -> (H, W, C) float64, edges reflected."""
    h, w, c = image.shape
    r = taps.shape[0] // 2
    tmp = np.zeros_like(image)
    out = np.zeros_like(image)
    for y in range(h):
        for x in range(w):
            for t in range(taps.shape[0]):
                yy = _reflect(y + t - r, h)
                for ch in range(c):
                    tmp[y, x, ch] += taps[t] * image[yy, x, ch]
    for y in range(h):
        for x in range(w):
            for t in range(taps.shape[0]):
                xx = _reflect(x + t - r, w)
                for ch in range(c):
                    out[y, x, ch] += taps[t] * tmp[y, xx, ch]
    return out


@jit
def grid_edges(image):
    """The 8-neighbour graph of an (H, W, C) image: each pixel p = y * W + x links to its
    right, down, down-right and down-left neighbours (the other four directions are the same
    edges seen from the other end). Returns (E, 2) int64 pixel pairs and (E,) float64
    weights ||image[p] - image[q]||."""
    h, w, c = image.shape
    n_edges = h * (w - 1) + (h - 1) * w + 2 * (h - 1) * (w - 1)
    edges = np.empty((n_edges, 2), np.int64)
    weights = np.empty(n_edges, np.float64)
    e = 0
    for y in range(h):
        for x in range(w):
            for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
                yy, xx = y + dy, x + dx
                if yy >= h or xx < 0 or xx >= w:
                    continue
                d = 0.0
                for ch in range(c):
                    diff = image[y, x, ch] - image[yy, xx, ch]
                    d += diff * diff
                edges[e, 0] = y * w + x
                edges[e, 1] = yy * w + xx
                weights[e] = math.sqrt(d)
                e += 1
    return edges, weights


@jit
def find(parent, i):
    """Root of i's tree, halving the path on the way (each node skips to its grandparent)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@jit
def _union(parent, size, a, b):
    """Join roots a and b (the smaller tree under the larger); returns the new root."""
    if size[a] < size[b]:
        a, b = b, a
    parent[b] = a
    size[a] += size[b]
    return a


def sort_edges(weights):
    """Edge order by weight, lightest first; stable, so equal weights keep grid order.
    NumPy's sort, not numba's: as fast, and nothing to compile."""
    return np.argsort(weights, kind="stable")


def segment_graph(n_nodes, edges, weights, k, min_size):
    """Felzenszwalb-Huttenlocher on any graph. edges (E, 2) int64, weights (E,) float64;
    returns (n_nodes,) int64 labels 0..n-1, numbered in order of each segment's first node."""
    return segment_sorted(n_nodes, edges, weights, sort_edges(weights), k, min_size)


@jit
def segment_sorted(n_nodes, edges, weights, order, k, min_size):
    """`segment_graph` with the edge order given (sorting is most of the time, and one
    sorted graph serves every k)."""
    parent = np.arange(n_nodes)
    size = np.ones(n_nodes, np.int64)
    internal = np.zeros(n_nodes)                    # Int(C), valid at roots
    for e in order:
        a, b = find(parent, edges[e, 0]), find(parent, edges[e, 1])
        if a == b:
            continue
        w = weights[e]
        if w <= min(internal[a] + k / size[a], internal[b] + k / size[b]):
            root = _union(parent, size, a, b)
            internal[root] = w
    for e in order:
        a, b = find(parent, edges[e, 0]), find(parent, edges[e, 1])
        if a != b and (size[a] < min_size or size[b] < min_size):
            _union(parent, size, a, b)
    labels = np.full(n_nodes, -1, np.int64)
    root_label = np.full(n_nodes, -1, np.int64)
    n = 0
    for i in range(n_nodes):
        r = find(parent, i)
        if root_label[r] < 0:
            root_label[r] = n
            n += 1
        labels[i] = root_label[r]
    return labels


def image_graph(image, sigma):
    """The sorted 8-neighbour graph of an (H, W, C) image smoothed with a Gaussian of
    `sigma`: edges (E, 2), weights (E,), order (E,) lightest first."""
    smoothed = smooth(np.ascontiguousarray(image, dtype=np.float64), gaussian_kernel1d(sigma))
    edges, weights = grid_edges(smoothed)
    return edges, weights, sort_edges(weights)


def felzenszwalb(image, k, sigma, min_size, graph=None):
    """Segment an (H, W, C) float64 image: smooth with a Gaussian of `sigma`, build the
    8-neighbour graph, run `segment_sorted`. `graph`: `image_graph(image, sigma)` computed
    before, to reuse for several k. Returns (H, W) int64 labels 0..n-1."""
    h, w, _ = image.shape
    edges, weights, order = image_graph(image, sigma) if graph is None else graph
    return segment_sorted(h * w, edges, weights, order, float(k), int(min_size)).reshape(h, w)
