"""Spatial pyramid pooling (He et al., "Spatial Pyramid Pooling in Deep Convolutional Networks
for Visual Recognition", ECCV 2014): a fixed-length vector from a feature map of any size.

    spatial_pyramid_pool      (N, C, H, W) -> (N, C * sum(n*n for n in levels))
    roi_spatial_pyramid_pool  (N, C, H, W) + K boxes -> (K, C * sum(n*n for n in levels))

For each pyramid level n the map is max-pooled onto an n x n grid of bins; the grids are
flattened (channel-major, as `x.flatten(1)` orders them) and concatenated level after level.
SPPNet's detection network used levels (6, 3, 2, 1): 50 bins per channel, 256 * 50 = 12,800
numbers per region from ZF-5's conv5, whatever the region's size.

Bin edges, one dimension of a-pixels into n bins:

- mode="adaptive" (the default): bin i covers [floor(i*a/n), ceil((i+1)*a/n)), the rule of
  torch's adaptive_max_pool2d and of torchvision's roi_pool. Every pixel is in some bin and
  there are always n bins, even when a < n (neighbouring bins then share pixels).
- mode="paper": the paper's sliding window, win = ceil(a/n) and stride = floor(a/n), as a
  max_pool2d. On the paper's 13x13 conv5 both modes give the same bins for n = 6, 3, 2, 1
  (and whenever n divides a); elsewhere the window rule can give the wrong number of bins
  (a = 5, n = 3: win 2, stride 1, (5 - 2)/1 + 1 = 4 bins) or skip the last pixels (a = 10,
  n = 4: win 3, stride 2, bins [0,3) [2,5) [4,7) [6,9): pixel 9 is never seen). Region
  windows on a small feature map hit both cases all the time, hence the default; mode="paper"
  raises a ValueError where the window rule does not give n bins.

The RoI form cuts each box's window out of the map (torchvision's roi_pool rounding) and pools
the window into the same pyramid: it is roi_pool at every level, and Fast R-CNN's RoI pooling
is this with one level (7 x 7).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd.function import Function, register
from ..kernels import pool as K
from .methods import as_tensor, cat
from .roi import roi_pool

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
MODES = ("adaptive", "paper")


def _check_levels(levels, op):
    """levels as a tuple of positive ints (an int n means the single level n)."""
    if isinstance(levels, numbers.Integral) and not isinstance(levels, bool):
        levels = (levels,)
    try:
        out = tuple(levels)
    except TypeError:
        raise TypeError(f"{op}: levels must be a sequence of bin counts such as (6, 3, 2, 1), "
                        f"got {levels!r}") from None
    if not out:
        raise ValueError(f"{op}: levels must name at least one level, got {levels!r}")
    for n in out:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"{op}: every level must be an int >= 1 (bins per side), got "
                             f"{levels!r}")
    return tuple(int(n) for n in out)


def pyramid_bins(size: int, n: int, mode: str = "adaptive"):
    """The [start, end) pixel ranges of the n bins along a `size`-pixel side, as a list of
    pairs; what spatial_pyramid_pool maxes over (see the module docstring for both modes)."""
    if mode == "adaptive":
        return [((i * size) // n, -((-(i + 1) * size) // n)) for i in range(n)]
    if mode != "paper":
        raise ValueError(f"spatial_pyramid_pool: mode must be one of {MODES}, got {mode!r}")
    win, stride = -(-size // n), size // n
    if stride == 0:
        raise ValueError(f"spatial_pyramid_pool(mode='paper'): a {size}-pixel side cannot make "
                         f"{n} bins: stride = floor({size}/{n}) = 0; use mode='adaptive'")
    count = (size - win) // stride + 1
    if count != n:
        raise ValueError(f"spatial_pyramid_pool(mode='paper'): a {size}-pixel side into {n} "
                         f"bins: win = ceil({size}/{n}) = {win}, stride = floor({size}/{n}) = "
                         f"{stride} gives ({size} - {win})/{stride} + 1 = {count} bins, not "
                         f"{n}; use mode='adaptive'")
    return [(i * stride, i * stride + win) for i in range(n)]


@register("spatial_pyramid_pool")
class SpatialPyramidPool(Function):
    """Max over each level's n x n bins, flattened and concatenated; the gradient of each bin
    goes to its argmax (a pixel that wins in several levels gets the sum).

    (N, C, H, W) -> (N, C * sum(n*n))
    """

    @staticmethod
    def forward(ctx, x, levels=(6, 3, 2, 1), mode="adaptive"):
        op = "spatial_pyramid_pool"
        levels = _check_levels(levels, op)
        if mode not in MODES:
            raise ValueError(f"{op}: mode must be one of {MODES}, got {mode!r}")
        if x.ndim != 4:
            raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got a {x.ndim}-D input "
                             f"of shape {x.shape}")
        if x.dtype not in _FLOATS:
            raise TypeError(f"{op}: expected a float32 or float64 input, got {x.dtype}")
        N, C, H, W = x.shape
        if H == 0 or W == 0:
            raise ValueError(f"{op}: the input planes are empty ({H}x{W})")
        planes = np.ascontiguousarray(x).reshape(N * C, H, W)
        outs, saved = [], []
        for n in levels:
            if mode == "adaptive":
                out, idx = K.adaptive_max_pool2d_forward(planes, n, n)
            else:
                (r0, r1), (c0, c1) = pyramid_bins(H, n, mode)[0], pyramid_bins(W, n, mode)[0]
                kh, kw = r1 - r0, c1 - c0
                sh, sw = H // n, W // n
                out, idx = K.max_pool2d_forward(planes, kh, kw, sh, sw, 0, 0, 1, 1, n, n)
            outs.append(out.reshape(N, C * n * n))
            saved.append(idx)
        ctx.levels, ctx.indices, ctx.in_shape = levels, saved, x.shape
        return np.concatenate(outs, axis=1)

    @staticmethod
    def backward(ctx, grad):
        N, C, H, W = ctx.in_shape
        total = np.zeros((N * C, H, W), dtype=grad.dtype)
        start = 0
        for n, idx in zip(ctx.levels, ctx.indices):
            g = np.ascontiguousarray(grad[:, start:start + C * n * n]).reshape(N * C, n, n)
            total += K.max_pool2d_backward(g, idx, H, W)
            start += C * n * n
        return total.reshape(N, C, H, W)


def spatial_pyramid_pool(input, levels=(6, 3, 2, 1), mode="adaptive"):
    """Spatial pyramid pooling: (N, C, H, W) -> (N, C * sum(n*n for n in levels)).

    Per level n, max over an n x n grid of bins (mode "adaptive": torch's adaptive_max_pool2d
    bins; "paper": He et al.'s win = ceil(a/n), stride = floor(a/n)), each flattened as
    (C, n, n), levels concatenated in the order given."""
    return SpatialPyramidPool.apply(as_tensor(input), levels=levels, mode=mode)


def roi_spatial_pyramid_pool(input, boxes, levels=(6, 3, 2, 1), spatial_scale=1.0):
    """SPPNet's pooling of proposal windows: each box's window of the feature map pooled
    into the pyramid.

    input (N, C, H, W); boxes (K, 5) [batch_index, x1, y1, x2, y2] in image pixels or a list
    of (L_i, 4) per image, as roi_pool; spatial_scale maps image to map pixels (1/16 for a
    network that strides 16) -> (K, C * sum(n*n)). The window is rounded to map pixels as
    torchvision's roi_pool rounds it (its bins are the adaptive bins of that window)."""
    op = "roi_spatial_pyramid_pool"
    levels = _check_levels(levels, op)
    parts = [roi_pool(input, boxes, (n, n), spatial_scale).flatten(1) for n in levels]
    return parts[0] if len(parts) == 1 else cat(parts, 1)
