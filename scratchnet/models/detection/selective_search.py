"""Selective search (Uijlings, van de Sande, Gevers, Smeulders, "Selective Search for Object
Recognition", IJCV 2013): the region proposals R-CNN and Fast R-CNN classify.

    boxes = selective_search(image)          # (N, 4) float32 xyxy, best-ranked first

Three steps, each a function here:

1. `felzenszwalb`: over-segment the image into small regions of similar colour
   (Felzenszwalb and Huttenlocher 2004; the numba kernel is scratchnet.kernels.felzenszwalb).
2. `hierarchical_grouping`: merge the two most similar neighbouring regions, again and again,
   until one region is left. Similarity (eq. 1-5 of the paper) sums any of
       colour   histogram intersection of 25-bin histograms per channel (L1-normalised),
       texture  the same on 10-bin histograms of Gaussian derivatives (sigma = 1) in 8
                orientations per channel (SIFT-like),
       size     1 - (|a| + |b|) / |image|: small regions merge first,
       fill     1 - (|box(a u b)| - |a| - |b|) / |image|: regions that fill each other's gaps.
   Every region of the hierarchy (the n segments and the n - 1 merges) is a proposal.
3. Diversification: the grouping runs in several colour spaces, with several k of the
   segmentation and several similarity combinations (`STRATEGIES`); each region gets the
   value RND * i, i its position in its hierarchy counted from the top (i = 1 is the whole
   image), RND uniform in [0, 1) from `seed`; all regions sorted by that value, duplicate
   boxes dropped. Large regions (low i) come first, small ones are mixed in at random.

The modes (the paper's table 5):

    "single"   HSV;                           k = 100;                 C+T+S+F
    "fast"     HSV, Lab;                      k = 50, 100;             C+T+S+F, T+S+F
    "quality"  HSV, Lab, rgI, H, I;           k = 50, 100, 150, 300;   C+T+S+F, T+S+F, F, S

The segmentation uses sigma = 0.8 and min_size = k, as the authors' code does. k is in
units of a 0..255 intensity scale (as in Felzenszwalb's code and scikit-image's `scale`);
every colour space is mapped to [0, 1] per channel (Lab: L / 100, (a + 128) / 255,
(b + 128) / 255) and segmented there. A grey image is treated as RGB with three equal
channels. Hue is an angle but is used as a plain number, as in the authors' code.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...data.transforms import resize
from ...kernels import felzenszwalb as _fz
from ...kernels import grouping as _grouping

COLOUR_BINS = 25
TEXTURE_BINS = 10
ORIENTATIONS = 8

STRATEGIES = {
    "single": (("hsv",), (100,), ("CTSF",)),
    "fast": (("hsv", "lab"), (50, 100), ("CTSF", "TSF")),
    "quality": (("hsv", "lab", "rgi", "h", "i"), (50, 100, 150, 300),
                ("CTSF", "TSF", "F", "S")),
}
"""mode -> (colour spaces, k values, similarity combinations): the paper's table 5."""

COLOUR_SPACES = ("rgb", "hsv", "lab", "rgi", "h", "i")


def as_rgb(image, fn="selective_search"):
    """An image as (H, W, 3) float64 in [0, 1].

    image: (H, W) grey, (H, W, 3) or (H, W, 1), or (C, H, W) with C = 1 or 3; uint8
    (0..255) or floating in [0, 1]."""
    a = np.asarray(image)
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.floating) or a.dtype == np.uint8):
        raise TypeError(f"{fn}: expected a uint8 or floating image, got dtype {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    elif a.ndim == 3 and a.shape[2] in (1, 3):
        pass
    elif a.ndim == 3 and a.shape[0] in (1, 3):
        a = np.moveaxis(a, 0, -1)
    else:
        raise ValueError(f"{fn}: expected an image (H, W), (H, W, 3) or (C, H, W) with C = 1 "
                         f"or 3, got shape {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{fn}: the image is empty (shape {np.asarray(image).shape})")
    if a.dtype == np.uint8:
        a = a / 255.0
    else:
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise ValueError(f"{fn}: the image has NaN or infinite pixels")
        if a.min() < 0 or a.max() > 1:
            raise ValueError(f"{fn}: a floating image must lie in [0, 1], got values in "
                             f"[{a.min():.4g}, {a.max():.4g}] (divide a 0..255 image by 255)")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a)


def rgb_to_hsv(rgb):
    """(..., 3) RGB in [0, 1] -> HSV in [0, 1]: V = max, S = (max - min) / max, H the
    hexcone angle / 360 degrees (0 for greys)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = rgb.max(axis=-1)
    delta = v - rgb.min(axis=-1)
    s = np.where(v > 0, delta / np.where(v > 0, v, 1), 0.0)
    d = np.where(delta > 0, delta, 1)
    h = np.where(v == r, (g - b) / d, np.where(v == g, 2.0 + (b - r) / d, 4.0 + (r - g) / d))
    h = np.where(delta > 0, (h / 6.0) % 1.0, 0.0)
    return np.stack([h, s, v], axis=-1)


# sRGB primaries to CIE XYZ, and the D65 white point (IEC 61966-2-1)
_RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                        [0.212671, 0.715160, 0.072169],
                        [0.019334, 0.119193, 0.950227]])
_D65 = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb):
    """(..., 3) sRGB in [0, 1] -> CIE L*a*b* (D65): L in [0, 100], a and b roughly
    [-128, 127]. Linearise (c / 12.92 below 0.04045, else ((c + 0.055) / 1.055)^2.4), to
    XYZ, divide by the white point, f(t) = t^(1/3) above 0.008856 else 7.787 t + 16/116;
    L = 116 f(Y) - 16, a = 500 (f(X) - f(Y)), b = 200 (f(Y) - f(Z)). The two constants are
    CIE's published roundings of (6/29)^3 and 1/(3 (6/29)^2), as most software uses them."""
    lin = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = lin @ _RGB_TO_XYZ.T / _D65
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


def colour_space(rgb, space):
    """(H, W, 3) RGB in [0, 1] -> (H, W, C) in [0, 1] in one of COLOUR_SPACES:
    "hsv", "lab" (L / 100, (a + 128) / 255, (b + 128) / 255), "rgi" (normalised r, g and
    intensity (R + G + B) / 3), "h" (hue alone), "i" (intensity alone), "rgb"."""
    if space == "rgb":
        return rgb
    if space == "hsv":
        return rgb_to_hsv(rgb)
    if space == "h":
        return rgb_to_hsv(rgb)[..., :1]
    if space == "lab":
        lab = rgb_to_lab(rgb)
        return np.clip(np.stack([lab[..., 0] / 100, (lab[..., 1] + 128) / 255,
                                 (lab[..., 2] + 128) / 255], axis=-1), 0.0, 1.0)
    total = rgb.sum(axis=-1)
    if space == "i":
        return (total / 3)[..., None]
    if space == "rgi":
        safe = np.where(total > 0, total, 1)
        r = np.where(total > 0, rgb[..., 0] / safe, 1 / 3)
        g = np.where(total > 0, rgb[..., 1] / safe, 1 / 3)
        return np.stack([r, g, total / 3], axis=-1)
    raise ValueError(f"selective_search: colour space must be one of {COLOUR_SPACES}, got "
                     f"{space!r}")


def felzenszwalb(image, scale=1.0, sigma=0.8, min_size=20):
    """Felzenszwalb-Huttenlocher segmentation, scikit-image's signature and units.

    image: (H, W) or (H, W, C) (uint8, or floating in [0, 1]; colours are compared by their
    Euclidean distance); scale: k on a 0..255 scale (larger: larger segments); sigma: the
    Gaussian smoothing before; min_size: segments smaller than this are merged away.
    Returns (H, W) int64 labels 0..n-1 (numbered in raster order of first pixel)."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"felzenszwalb: expected an image (H, W) or (H, W, C), got shape "
                         f"{np.asarray(image).shape}")
    if a.dtype == np.uint8:
        a = a / 255.0
    elif not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"felzenszwalb: expected a uint8 or floating image, got {a.dtype}")
    elif not np.isfinite(a).all():
        raise ValueError("felzenszwalb: the image has NaN or infinite pixels")
    if not scale > 0 or not sigma >= 0 or min_size < 0:
        raise ValueError(f"felzenszwalb: need scale > 0, sigma >= 0 and min_size >= 0, got "
                         f"scale={scale}, sigma={sigma}, min_size={min_size}")
    return _fz.felzenszwalb(a, scale / 255.0, sigma, min_size)


def _gaussian_derivatives(channel):
    """d/dx and d/dy of an (H, W) channel smoothed with a Gaussian of sigma 1 (taps to
    radius 4, edges mirrored): each a separable filter, derivative taps -x g(x) along its
    axis and g along the other."""
    g = _fz.gaussian_kernel1d(1.0)
    x = np.arange(-4, 5, dtype=np.float64)
    dg = -x * g                                  # d/dx of the Gaussian, sigma = 1
    padded = np.pad(channel, 4, mode="symmetric")
    h, w = channel.shape

    def filt(img, taps, axis):
        out = np.zeros((img.shape[0] - 8, img.shape[1]) if axis == 0 else
                       (img.shape[0], img.shape[1] - 8))
        for t in range(9):
            # correlation with taps reversed = convolution with taps
            sl = img[t:t + out.shape[0]] if axis == 0 else img[:, t:t + out.shape[1]]
            out += taps[8 - t] * sl
        return out

    gx = filt(filt(padded, g, 0), dg, 1)
    gy = filt(filt(padded, dg, 0), g, 1)
    assert gx.shape == (h, w) and gy.shape == (h, w)
    return gx, gy


def texture_bins(image):
    """(H, W, C) in [0, 1] -> (H, W, C * 8) int64: for each channel and each of 8
    orientations theta = 0, 45, ..., 315 degrees, the Gaussian derivative along theta
    (cos theta dI/dx + sin theta dI/dy, sigma 1), negative responses set to 0, binned into
    10 equal bins from 0 to that channel's and orientation's largest response."""
    h, w, c = image.shape
    out = np.zeros((h, w, c * ORIENTATIONS), np.int64)
    angles = np.arange(ORIENTATIONS) * (2 * np.pi / ORIENTATIONS)
    for ch in range(c):
        gx, gy = _gaussian_derivatives(image[..., ch])
        for o, theta in enumerate(angles):
            resp = np.maximum(np.cos(theta) * gx + np.sin(theta) * gy, 0.0)
            top = resp.max()
            # a flat channel leaves rounding noise (~1e-17), which must not fill the bins
            if top > 1e-9:
                out[..., ch * ORIENTATIONS + o] = np.minimum(
                    (resp / top * TEXTURE_BINS).astype(np.int64), TEXTURE_BINS - 1)
    return out


def colour_bins(image):
    """(H, W, C) in [0, 1] -> (H, W, C) int64 bin 0..24 of each value (25 equal bins)."""
    return np.minimum((image * COLOUR_BINS).astype(np.int64), COLOUR_BINS - 1)


class Regions(NamedTuple):
    """The segments of one image with what the similarities need: size (n,), box (n, 4)
    xyxy pixel edges, colour (n, 25 C) and texture (n, 80 C) L1-normalised histograms,
    pairs (P, 2) of adjacent segments, image_size H * W."""
    size: np.ndarray
    box: np.ndarray
    colour: np.ndarray
    texture: np.ndarray
    pairs: np.ndarray
    image_size: float


def region_features(labels, image, bins=None):
    """Regions of a segmentation `labels` (H, W) int 0..n-1 of `image` (H, W, C) in [0, 1].
    bins: (colour_bins(image), texture_bins(image)) computed before, to reuse for several
    segmentations of one image."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape != image.shape[:2]:
        raise ValueError(f"region_features: labels must be (H, W) like the image "
                         f"{image.shape[:2]}, got {labels.shape}")
    # any integer labels: renumber 0..n-1 so that no region is empty
    labels = np.unique(labels, return_inverse=True)[1].reshape(labels.shape).astype(np.int64)
    h, w = labels.shape
    n = int(labels.max()) + 1
    cb, tb = (colour_bins(image), texture_bins(image)) if bins is None else bins
    flat = labels.ravel()
    size = np.bincount(flat, minlength=n).astype(np.float64)
    ys, xs = np.divmod(np.arange(flat.size), w)
    box = np.empty((n, 4))
    box[:, :2] = [w, h]
    box[:, 2:] = 0
    np.minimum.at(box[:, 0], flat, xs)
    np.minimum.at(box[:, 1], flat, ys)
    np.maximum.at(box[:, 2], flat, xs + 1)
    np.maximum.at(box[:, 3], flat, ys + 1)
    return Regions(size, box, _histograms(flat, n, cb, COLOUR_BINS),
                   _histograms(flat, n, tb, TEXTURE_BINS), adjacent_pairs(labels),
                   float(labels.size))


def _histograms(flat_labels, n, bins, n_bins):
    """Per-region histograms, one block of n_bins per channel of `bins` (H, W, C), the whole
    row L1-normalised: (n, C * n_bins)."""
    c = bins.shape[-1]
    column = (np.arange(c) * n_bins)[None, :] + bins.reshape(-1, c)     # (HW, C)
    code = flat_labels[:, None] * (c * n_bins) + column
    hist = np.bincount(code.ravel(), minlength=n * c * n_bins).reshape(n, c * n_bins)
    return hist / hist.sum(axis=1, keepdims=True)


def adjacent_pairs(labels):
    """Pairs (a, b), a < b, of segments that touch (8-neighbourhood, as the segmentation
    graph), each once: (P, 2) int64 in lexicographic order."""
    n = int(labels.max()) + 1
    codes = []
    for p, q in ((labels[:, :-1], labels[:, 1:]), (labels[:-1], labels[1:]),
                 (labels[:-1, :-1], labels[1:, 1:]), (labels[:-1, 1:], labels[1:, :-1])):
        differ = p != q
        a, b = p[differ], q[differ]
        codes.append(np.minimum(a, b) * n + np.maximum(a, b))
    codes = np.unique(np.concatenate(codes))
    return np.stack([codes // n, codes % n], axis=1).astype(np.int64)


class Hierarchy(NamedTuple):
    """One run of the grouping: boxes (2n - 1, 4) float64 of every region by id (ids 0..n-1
    the segments, n + t the region made by merge t), merges (n - 1, 2) the two ids merged at
    step t, sims (n - 1,) the similarity of that merge."""
    boxes: np.ndarray
    merges: np.ndarray
    sims: np.ndarray


def similarity_weights(similarities):
    """A combination like "CTSF" or "TSF" -> weights (colour, texture, size, fill)."""
    s = str(similarities).upper()
    if not s or any(ch not in "CTSF" for ch in s) or len(set(s)) != len(s):
        raise ValueError(f"selective_search: similarities are letters from 'CTSF' (colour, "
                         f"texture, size, fill), each at most once, got {similarities!r}")
    return np.array([float(ch in s) for ch in "CTSF"])


def hierarchical_grouping(regions, similarities="CTSF"):
    """Merge the most similar adjacent regions until one is left (algorithm 1 of the
    paper). regions: `region_features(...)`; similarities: e.g. "CTSF". -> Hierarchy."""
    w = similarity_weights(similarities)
    if len(regions.size) == 1:
        return Hierarchy(regions.box.copy(), np.zeros((0, 2), np.int64), np.zeros(0))
    boxes, merges, sims = _grouping.group(regions.size, regions.box, regions.colour,
                                          regions.texture, regions.pairs, regions.image_size, w)
    return Hierarchy(boxes, merges, sims)


def rank_proposals(hierarchies, seed=0):
    """Boxes of several hierarchies in the paper's order: region at position i of its
    hierarchy (i = 1 the last merge, the whole image; i = 2n - 1 the first segment) gets
    RND * i; ascending order; a box met again later is dropped. -> (N, 4) float64."""
    rng = np.random.default_rng(seed)
    boxes, values = [], []
    for h in hierarchies:
        m = len(h.boxes)
        position = m - np.arange(m, dtype=np.float64)
        boxes.append(h.boxes)
        values.append(rng.random(m) * position)
    boxes = np.concatenate(boxes)
    order = np.argsort(np.concatenate(values), kind="stable")
    boxes = boxes[order]
    _, first = np.unique(boxes, axis=0, return_index=True)
    return boxes[np.sort(first)]


def selective_search(image, mode="fast", seed=0, min_box_size=0, strategies=None,
                     image_scale=1.0):
    """Region proposals of one image.

    image: (H, W), (H, W, 3) or (C, H, W), uint8 or floating in [0, 1]
    mode: "single", "fast" or "quality" (see STRATEGIES), or give
    strategies: (colour spaces, k values, similarity combinations) to choose your own
    seed: the random ranking (same seed, same order)
    min_box_size: drop boxes narrower or lower than this (the authors' demo uses 20 px),
        in the input image's pixels
    image_scale: resize the image by this factor (bilinear) before the search and map the
        boxes back. The paper's k and min_size = k are tuned for photos of about 500x375;
        on a small image they swallow small objects whole (a 64x64 DigitScenes scene
        needs about 4)
    Returns (N, 4) float32 xyxy boxes in pixel edges (a one-pixel region at (x, y) is
    [x, y, x + 1, y + 1]), best-ranked first, no duplicates."""
    rgb = as_rgb(image)
    if not (np.isfinite(image_scale) and image_scale > 0):
        raise ValueError(f"selective_search: image_scale must be > 0, got {image_scale}")
    if image_scale != 1.0:
        h, w = rgb.shape[:2]
        size = (max(1, round(h * image_scale)), max(1, round(w * image_scale)))
        scaled = np.clip(resize(np.moveaxis(rgb, -1, 0), size), 0.0, 1.0)
        boxes = selective_search(np.moveaxis(scaled, 0, -1), mode, seed, 0, strategies)
        boxes = boxes.astype(np.float64) * [w / size[1], h / size[0], w / size[1],
                                            h / size[0]]
        return _keep_large(boxes, min_box_size).astype(np.float32)
    if strategies is None:
        if mode not in STRATEGIES:
            raise ValueError(f"selective_search: mode must be one of {tuple(STRATEGIES)}, "
                             f"got {mode!r}")
        strategies = STRATEGIES[mode]
    spaces, ks, sims = strategies
    for s in sims:
        similarity_weights(s)
    for k in ks:
        if not k > 0:
            raise ValueError(f"selective_search: k values must be > 0, got {k}")
    hierarchies = []
    for space in spaces:
        img = colour_space(rgb, space)
        # the graph and the pixels' bins depend on the colour space only, not on k
        graph = _fz.image_graph(img, 0.8)
        bins = colour_bins(img), texture_bins(img)
        for k in ks:
            labels = _fz.felzenszwalb(img, k / 255.0, 0.8, int(k), graph)
            regions = region_features(labels, img, bins)
            for s in sims:
                hierarchies.append(hierarchical_grouping(regions, s))
    return _keep_large(rank_proposals(hierarchies, seed), min_box_size).astype(np.float32)


def _keep_large(boxes, min_box_size):
    if min_box_size <= 0:
        return boxes
    keep = ((boxes[:, 2] - boxes[:, 0]) >= min_box_size) & \
           ((boxes[:, 3] - boxes[:, 1]) >= min_box_size)
    return boxes[keep]
