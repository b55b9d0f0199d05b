"""Pooling kernels: max (with argmax indices), average, adaptive average and adaptive max.

Every kernel works on a stack of P = N*C independent planes, `(P, H, W)`. The ones that
compare or add k*k values per output loop over the planes with `prange`, one plane per
thread. Max pooling has two forward kernels: `max_pool2d_window_by_window`, the definition
read off the page (one window, then the next), and `max_pool2d_forward`, which computes the
same numbers a whole output row at a time so that the compiler can vectorise it (2x faster
at k=3 s=2, 3-5x at stride 1; slower than the definition at strides above 2, where
max_pool2d keeps the definition). tests/test_pool.py checks that both agree to the last
index. The backward scatter of max pooling is built serially (`jit`, where prange is plain
range): it moves memory and hardly computes, and threads made it slower on two shared cores
(benchmarks/bench_pool.py builds both and prints the comparison).

Window geometry, one spatial dimension, output position o (stride s, padding p, dilation d):

    taps  o*s - p + j*d   for j = 0 .. k-1, of which only 0 <= tap < H exist

An index is the flat offset `h*W + w` of the chosen pixel inside its (H, W) plane, as PyTorch
stores it. The callers validate every argument; these kernels trust their input.
"""
from __future__ import annotations

import numpy as np

from numba import uint64

from ._jit import jit, jit_float_division, jit_inline, jit_parallel, prange
from .im2col import valid_range


@jit_parallel
def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w):
    """Max over each window, and where it was, one output row at a time.

    x: (P, H, W) -> out: (P, H', W') same dtype, indices: (P, H', W') int64 (h*W + w).

    The same answers as max_pool2d_window_by_window, with the loops turned inside out: for
    output row oh, every tap (i, j) of the window is compared at once across all W' outputs
    of the row (`best` and `best_at` hold the row's running maxima). Each output still sees
    its taps in row-major order, so ties and NaN behave exactly as there. The innermost loop
    has no dependence between iterations and no bounds test (valid_range gives the outputs
    whose tap j is inside the image), so LLVM vectorises it.
    """
    P, H, W = x.shape
    out = np.empty((P, out_h, out_w), dtype=x.dtype)
    indices = np.empty((P, out_h, out_w), dtype=np.int64)
    first = np.empty(out_w, np.int64)       # each output column's first tap in the image
    for ow in range(out_w):
        w0 = ow * sw - pw
        while w0 < 0:
            w0 += dw
        first[ow] = w0
    lo = np.empty(kw, np.int64)             # outputs lo[j] <= ow < hi[j] have tap j inside
    hi = np.empty(kw, np.int64)
    for j in range(kw):
        lo[j], hi[j] = valid_range(j * dw - pw, W, sw, out_w)
    xf = x.reshape(-1)
    for p in prange(P):
        best = np.empty(out_w, x.dtype)
        best_at = np.empty(out_w, np.int64)
        plane = p * H * W
        for oh in range(out_h):
            h0 = oh * sh - ph
            ilo, ihi = 0, kh                  # the window's rows inside the image
            while h0 + ilo * dh < 0:
                ilo += 1
            while ihi > ilo and h0 + (ihi - 1) * dh >= H:
                ihi -= 1
            for ow in range(out_w):
                best[ow] = -np.inf
                best_at[ow] = (h0 + ilo * dh) * W + first[ow]
            for i in range(ilo, ihi):
                for j in range(kw):
                    start = (h0 + i * dh) * W + j * dw - pw     # the pixel output 0 would read
                    # the stride as a literal lets LLVM vectorise the strided loads
                    if sw == 1:
                        _max_along_row(xf, plane, start, uint64(1), lo[j], hi[j], best, best_at)
                    elif sw == 2:
                        _max_along_row(xf, plane, start, uint64(2), lo[j], hi[j], best, best_at)
                    else:
                        _max_along_row(xf, plane, start, uint64(sw), lo[j], hi[j], best,
                                       best_at)
            out[p, oh] = best
            indices[p, oh] = best_at
    return out, indices


@jit_inline
def _max_along_row(xf, plane, start, stride, lo, hi, best, best_at):
    """One tap for outputs lo..hi-1 of a row: output ow reads pixel start + ow*stride of the
    plane. `take` is the window-by-window rule (greater, or NaN), written as a select."""
    for ow in range(uint64(lo), uint64(hi)):
        at = uint64(start) + ow * stride    # >= 0 for ow >= lo; unsigned spares wrap checks
        v = xf[uint64(plane) + at]
        take = (v > best[ow]) | (v != v)
        best[ow] = v if take else best[ow]
        best_at[ow] = at if take else best_at[ow]


@jit_parallel
def max_pool2d_window_by_window(x, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w):
    """Max over each window, and where it was: the definition, one window at a time.

    x: (P, H, W) -> out: (P, H', W') same dtype, indices: (P, H', W') int64 (h*W + w).

    Padding is never read, so it acts as -inf. `v > best` keeps the first of equal values in
    row-major window order; `v != v` lets every NaN replace the running best, so a NaN in the
    window wins (the last one, as PyTorch's CPU kernel). A window of all -inf reports its
    first pixel.
    """
    P, H, W = x.shape
    out = np.empty((P, out_h, out_w), dtype=x.dtype)
    indices = np.empty((P, out_h, out_w), dtype=np.int64)
    for p in prange(P):
        for oh in range(out_h):
            h0 = oh * sh - ph
            h1 = min(h0 + (kh - 1) * dh + 1, H)
            while h0 < 0:
                h0 += dh
            for ow in range(out_w):
                w0 = ow * sw - pw
                w1 = min(w0 + (kw - 1) * dw + 1, W)
                while w0 < 0:
                    w0 += dw
                best = -np.inf
                best_at = h0 * W + w0
                for ih in range(h0, h1, dh):
                    for iw in range(w0, w1, dw):
                        v = x[p, ih, iw]
                        if v > best or v != v:
                            best = v
                            best_at = ih * W + iw
                out[p, oh, ow] = best
                indices[p, oh, ow] = best_at
    return out, indices


@jit
def max_pool2d_backward(grad_out, indices, H, W):
    """Scatter-add each output gradient to the pixel its window chose.

    grad_out, indices: (P, H', W') -> grad_in: (P, H, W). Overlapping windows that chose the
    same pixel add up there. Also the backward of adaptive max pooling.
    """
    P, out_h, out_w = grad_out.shape
    grad_in = np.zeros((P, H * W), dtype=grad_out.dtype)
    for p in prange(P):
        for oh in range(out_h):
            for ow in range(out_w):
                grad_in[p, indices[p, oh, ow]] += grad_out[p, oh, ow]
    return grad_in.reshape((P, H, W))


@jit_parallel
def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, out_h, out_w, count_include_pad, divisor):
    """Mean over each window.

    x: (P, H, W) -> out: (P, H', W'). The divisor is `divisor` when it is > 0
    (divisor_override); else the window's size clipped to the padded input when
    count_include_pad (a ceil_mode window hanging past the padding does not count the
    overhang), else the number of real pixels it covers. Sums run in float64.
    """
    P, H, W = x.shape
    out = np.empty((P, out_h, out_w), dtype=x.dtype)
    for p in prange(P):
        for oh in range(out_h):
            h0 = oh * sh - ph
            h1 = min(h0 + kh, H + ph)
            pool_h = h1 - h0
            h0 = max(h0, 0)
            h1 = min(h1, H)
            for ow in range(out_w):
                w0 = ow * sw - pw
                w1 = min(w0 + kw, W + pw)
                pool_w = w1 - w0
                w0 = max(w0, 0)
                w1 = min(w1, W)
                total = 0.0
                for ih in range(h0, h1):
                    for iw in range(w0, w1):
                        total += x[p, ih, iw]
                if divisor > 0:
                    n = divisor
                elif count_include_pad:
                    n = pool_h * pool_w
                else:
                    n = (h1 - h0) * (w1 - w0)
                out[p, oh, ow] = total / n
    return out


@jit_parallel
def avg_pool2d_backward(grad_out, H, W, kh, kw, sh, sw, ph, pw, count_include_pad, divisor):
    """Spread each output gradient evenly (grad / divisor) over the pixels of its window.

    grad_out: (P, H', W') -> grad_in: (P, H, W); the divisor rule is the forward's.
    """
    P, out_h, out_w = grad_out.shape
    grad_in = np.empty((P, H, W), dtype=grad_out.dtype)
    for p in prange(P):
        grad_in[p] = 0
        for oh in range(out_h):
            h0 = oh * sh - ph
            h1 = min(h0 + kh, H + ph)
            pool_h = h1 - h0
            h0 = max(h0, 0)
            h1 = min(h1, H)
            for ow in range(out_w):
                w0 = ow * sw - pw
                w1 = min(w0 + kw, W + pw)
                pool_w = w1 - w0
                w0 = max(w0, 0)
                w1 = min(w1, W)
                if divisor > 0:
                    n = divisor
                elif count_include_pad:
                    n = pool_h * pool_w
                else:
                    n = (h1 - h0) * (w1 - w0)
                share = grad_out[p, oh, ow] / n
                for ih in range(h0, h1):
                    for iw in range(w0, w1):
                        grad_in[p, ih, iw] += share
    return grad_in


@jit_float_division
def avg_pool2d_tiled_forward(x, kh, kw, out_h, out_w, divisor):
    """avg_pool2d_forward when the windows tile the plane: stride = kernel, no padding, so
    every window lies inside and has the same divisor (kh*kw, or divisor_override).

    x: (P, H, W) -> out: (P, H', W'), H' = H // kh, W' = W // kw. Sums run in float64, as
    there; without the clipping and the per-window divisor the loop is a few adds.
    """
    P = x.shape[0]
    out = np.empty((P, out_h, out_w), dtype=x.dtype)
    for p in range(P):
        for oh in range(out_h):
            h0 = oh * kh
            for ow in range(out_w):
                w0 = ow * kw
                total = 0.0
                for ih in range(h0, h0 + kh):
                    for iw in range(w0, w0 + kw):
                        total += x[p, ih, iw]
                out[p, oh, ow] = total / divisor
    return out


@jit_float_division
def avg_pool2d_tiled_backward(grad_out, H, W, kh, kw, divisor):
    """avg_pool2d_backward for tiling windows: each input pixel lies in at most one window,
    so its gradient is that window's share, written once (rows and columns past the last
    window get 0).

    grad_out: (P, H', W') -> grad_in: (P, H, W).
    """
    P, out_h, out_w = grad_out.shape
    grad_in = np.empty((P, H, W), dtype=grad_out.dtype)
    for p in range(P):
        for oh in range(out_h):
            for ow in range(out_w):
                share = grad_out[p, oh, ow] / divisor
                for ih in range(oh * kh, oh * kh + kh):
                    for iw in range(ow * kw, ow * kw + kw):
                        grad_in[p, ih, iw] = share
            for ih in range(oh * kh, oh * kh + kh):
                for iw in range(out_w * kw, W):
                    grad_in[p, ih, iw] = 0
        for ih in range(out_h * kh, H):
            for iw in range(W):
                grad_in[p, ih, iw] = 0
    return grad_in


@jit_parallel
def adaptive_avg_pool2d_forward(x, out_h, out_w):
    """Mean over PyTorch's adaptive bins.

    x: (P, H, W) -> out: (P, H', W'); bin i of a dimension covers
    [floor(i*H/H'), ceil((i+1)*H/H')), so bins may overlap and H' may exceed H.
    """
    P, H, W = x.shape
    out = np.empty((P, out_h, out_w), dtype=x.dtype)
    for p in prange(P):
        for oh in range(out_h):
            h0 = (oh * H) // out_h
            h1 = ((oh + 1) * H + out_h - 1) // out_h
            for ow in range(out_w):
                w0 = (ow * W) // out_w
                w1 = ((ow + 1) * W + out_w - 1) // out_w
                total = 0.0
                for ih in range(h0, h1):
                    for iw in range(w0, w1):
                        total += x[p, ih, iw]
                out[p, oh, ow] = total / ((h1 - h0) * (w1 - w0))
    return out


@jit_parallel
def adaptive_avg_pool2d_backward(grad_out, H, W):
    """Spread each bin's gradient evenly over its pixels: (P, H', W') -> (P, H, W)."""
    P, out_h, out_w = grad_out.shape
    grad_in = np.empty((P, H, W), dtype=grad_out.dtype)
    for p in prange(P):
        grad_in[p] = 0
        for oh in range(out_h):
            h0 = (oh * H) // out_h
            h1 = ((oh + 1) * H + out_h - 1) // out_h
            for ow in range(out_w):
                w0 = (ow * W) // out_w
                w1 = ((ow + 1) * W + out_w - 1) // out_w
                share = grad_out[p, oh, ow] / ((h1 - h0) * (w1 - w0))
                for ih in range(h0, h1):
                    for iw in range(w0, w1):
                        grad_in[p, ih, iw] += share
    return grad_in


@jit_parallel
def adaptive_max_pool2d_forward(x, out_h, out_w):
    """Max over PyTorch's adaptive bins, and where it was.

    x: (P, H, W) -> out: (P, H', W'), indices: (P, H', W') int64. Bins as in
    adaptive_avg_pool2d_forward; ties and NaN as in max_pool2d_forward.
    """
    P, H, W = x.shape
    out = np.empty((P, out_h, out_w), dtype=x.dtype)
    indices = np.empty((P, out_h, out_w), dtype=np.int64)
    for p in prange(P):
        for oh in range(out_h):
            h0 = (oh * H) // out_h
            h1 = ((oh + 1) * H + out_h - 1) // out_h
            for ow in range(out_w):
                w0 = (ow * W) // out_w
                w1 = ((ow + 1) * W + out_w - 1) // out_w
                best = -np.inf
                best_at = h0 * W + w0
                for ih in range(h0, h1):
                    for iw in range(w0, w1):
                        v = x[p, ih, iw]
                        if v > best or v != v:
                            best = v
                            best_at = ih * W + iw
                out[p, oh, ow] = best
                indices[p, oh, ow] = best_at
    return out, indices
