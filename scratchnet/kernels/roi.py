"""RoI pooling (Fast R-CNN) and RoI align (Mask R-CNN) on plain ndarrays.

Both cut a box out of a feature map and resample it onto a fixed PH x PW grid of bins, so that
boxes of any size feed the same fully connected head:

    x     (N, C, H, W)     feature map
    rois  (K, 5)           [batch_index, x1, y1, x2, y2] in image coordinates, x's dtype;
                           spatial_scale (a scalar of x's dtype) maps them onto the map
    out   (K, C, PH, PW)

RoI pool rounds the box to whole pixels and takes the max over each bin; RoI align keeps the
box fractional and averages bilinear samples taken inside each bin.

Every step follows torchvision's CPU kernels in the same order and in the dtype of x (float32
maths for float32 input), so that round, floor and ceil land on the same pixels and sums add
in the same order (the one exception, in the RoI align backward, is noted there). The
callers (scratchnet/ops/roi.py) have checked everything: batch indices are whole numbers in
range, coordinates times the scale are finite, output sizes are >= 1.

The hot loops run over channels innermost, on a channels-last copy of the map (N, H, W, C):
the bins and bilinear taps of a box are the same for every channel, so they are worked out
once and then applied to C contiguous values at a time, which the compiler turns into SIMD.
Looping over channels outermost instead (one small bin scan per channel, as torchvision does)
measured 3x slower for RoI pool and 6x for RoI align on 300 boxes over 256 channels. Each
channel still sees its values in torchvision's order.

Threads: the forwards split the boxes (each writes only its own outputs); the backwards
scatter-add into the map, where two boxes may share a pixel, so they split the channels
instead and no two threads ever add to the same element. Small calls should run inside
`serial_if_small`: waking the worker threads costs microseconds on an idle machine but took
12 ms for an empty two-thread loop on this busy 2-core one, far more than their work.
"""
from __future__ import annotations

import contextlib

import numba
import numpy as np

from ._jit import jit, jit_parallel, prange

FLT_MAX = float(np.finfo(np.float32).max)

PARALLEL_MIN_OUTPUTS = 1 << 16
"""Output values (K * C * PH * PW) from which a RoI call is worth spreading over threads."""


@contextlib.contextmanager
def serial_if_small(n_outputs):
    """Run the enclosed kernel calls on the calling thread alone when they produce fewer than
    PARALLEL_MIN_OUTPUTS values (the setting is numba's, per calling thread)."""
    if n_outputs >= PARALLEL_MIN_OUTPUTS:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


@jit
def cpp_round(v):
    """C's round(): halves go away from zero (2.5 -> 3, -2.5 -> -3), where NumPy's np.round
    goes to the even neighbour (2.5 -> 2). Returns an int.

    Written as floor plus a comparison of the exact fraction; floor(v + 0.5) would be wrong
    for the float just below 0.5, whose sum with 0.5 rounds up to 1.
    """
    a = abs(v)
    whole = np.floor(a)
    r = int(whole) + (1 if a - whole >= 0.5 else 0)
    return r if v >= 0 else -r


@jit
def _pool_axis_bins(rois, start, end, pooled, out):
    """Bins along one axis of a rounded RoI covering pixels start..end (inclusive).

    roi_size = max(end - start + 1, 1); bin p covers [floor(p * size / pooled),
    ceil((p + 1) * size / pooled)) offset by start, so neighbouring bins may overlap by a
    pixel when size does not divide. out (pooled, 2) receives the unclipped [lo, hi).
    """
    T = rois.dtype.type
    size = max(end - start + 1, 1)          # a malformed box becomes one pixel
    bin_size = T(size) / T(pooled)
    for p in range(pooled):
        out[p, 0] = int(np.floor(T(p) * bin_size)) + start
        out[p, 1] = int(np.ceil(T(p + 1) * bin_size)) + start


@jit
def roi_pool_bin_edges(rois, spatial_scale, pooled_h, pooled_w):
    """Where each RoI-pool bin lies on the feature map, before clipping to it.

    rois (K, 5), spatial_scale a scalar of the rois' dtype
    -> rows (K, PH, 2), cols (K, PW, 2) int64: bin (ph, pw) of RoI k takes the max over
       rows[k, ph, 0] <= h < rows[k, ph, 1] and cols[k, pw, 0] <= w < cols[k, pw, 1].
    """
    K = rois.shape[0]
    rows = np.empty((K, pooled_h, 2), np.int64)
    cols = np.empty((K, pooled_w, 2), np.int64)
    for k in range(K):
        x1 = cpp_round(rois[k, 1] * spatial_scale)
        y1 = cpp_round(rois[k, 2] * spatial_scale)
        x2 = cpp_round(rois[k, 3] * spatial_scale)
        y2 = cpp_round(rois[k, 4] * spatial_scale)
        _pool_axis_bins(rois, y1, y2, pooled_h, rows[k])
        _pool_axis_bins(rois, x1, x2, pooled_w, cols[k])
    return rows, cols


@jit
def channels_last(x):
    """(N, C, H, W) -> a contiguous (N, H, W, C) copy."""
    N, C, H, W = x.shape
    out = np.empty((N, H, W, C), x.dtype)
    for n in range(N):
        for h in range(H):
            for c in range(C):
                for w in range(W):
                    out[n, h, w, c] = x[n, c, h, w]
    return out


@jit
def _store_box(out, k, box):
    """out[k, c, p] = box[p, c]: a box's channels-last results into (K, C, P) outputs, in
    blocks of 16 channels so that both sides stay in cache."""
    P, C = box.shape
    for c0 in range(0, C, 16):
        for p in range(P):
            for c in range(c0, min(c0 + 16, C)):
                out[k, c, p] = box[p, c]


@jit_parallel
def roi_pool_forward(x, rois, spatial_scale, pooled_h, pooled_w, with_argmax):
    """Max over each bin of each rounded RoI.

    x (N, C, H, W), rois (K, 5) -> out (K, C, PH, PW) of x's dtype, argmax (K, C, PH, PW)
    int32: the flat offset h * W + w of the max inside its (n, c) plane, -1 for a bin that
    lies wholly outside the map (its output is 0). with_argmax=False returns an argmax with
    K = 0 rows: writing 4 bytes per output costs as much as the max itself, and inference
    does not need it.

    As torchvision: the running max starts at -FLT_MAX and only a strictly larger value
    replaces it, so ties go to the first pixel in row-major order, NaNs are skipped, and a
    bin holding only -inf reports -FLT_MAX with argmax -1.
    """
    N, C, H, W = x.shape
    K = rois.shape[0]
    P = pooled_h * pooled_w
    rows, cols = roi_pool_bin_edges(rois, spatial_scale, pooled_h, pooled_w)
    xc = channels_last(x)
    out = np.empty((K, C, pooled_h, pooled_w), x.dtype)
    argmax = np.empty((K if with_argmax else 0, C, pooled_h, pooled_w), np.int32)
    out_flat = out.reshape((K, C, P))
    argmax_flat = argmax.reshape((argmax.shape[0], C, P))
    lowest = x.dtype.type(-FLT_MAX)
    for k in prange(K):
        b = int(rois[k, 0])
        best = np.empty((P, C), x.dtype)
        best_at = np.empty((P, C), np.int32)
        for ph in range(pooled_h):
            h0 = min(max(rows[k, ph, 0], 0), H)
            h1 = min(max(rows[k, ph, 1], 0), H)
            for pw in range(pooled_w):
                w0 = min(max(cols[k, pw, 0], 0), W)
                w1 = min(max(cols[k, pw, 1], 0), W)
                p = ph * pooled_w + pw
                # an empty bin (wholly off the map) scans nothing and stays 0, argmax -1
                start = lowest if h1 > h0 and w1 > w0 else x.dtype.type(0.0)
                for c in range(C):
                    best[p, c] = start
                    best_at[p, c] = -1
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        at = np.int32(h * W + w)
                        for c in range(C):
                            v = xc[b, h, w, c]
                            if v > best[p, c]:
                                best[p, c] = v
                                best_at[p, c] = at
        _store_box(out_flat, k, best)
        if with_argmax:
            _store_box(argmax_flat, k, best_at)
    return out, argmax


@jit_parallel
def roi_pool_backward(grad_out, argmax, rois, n_images, height, width):
    """Each bin's gradient goes to the pixel that won its max.

    grad_out (K, C, PH, PW), argmax (K, C, PH, PW) from the forward -> grad_x (N, C, H, W).
    Overlapping boxes add up on shared pixels.
    """
    K, C, PH, PW = grad_out.shape
    grad_x = np.zeros((n_images, C, height, width), grad_out.dtype)
    planes = grad_x.reshape((n_images, C, height * width))   # argmax is a flat offset
    for c in prange(C):
        for k in range(K):
            b = int(rois[k, 0])
            for ph in range(PH):
                for pw in range(PW):
                    at = argmax[k, c, ph, pw]
                    if at >= 0:
                        planes[b, c, at] += grad_out[k, c, ph, pw]
    return grad_x


@jit
def _align_axis_geometry(rois, k, lo_col, spatial_scale, pooled, sampling_ratio, aligned):
    """(start, bin_size, grid) of RoI k along one axis (lo_col 1 for x, 2 for y).

    aligned=True shifts the box by half a pixel so that pixel centres sit at integer + 0.5;
    aligned=False keeps the legacy rule that forces a box to be at least one pixel long.
    grid is the samples per bin: sampling_ratio, or ceil(length / pooled) when that is <= 0.
    """
    T = rois.dtype.type
    offset = T(0.5) if aligned else T(0.0)
    start = rois[k, lo_col] * spatial_scale - offset
    end = rois[k, lo_col + 2] * spatial_scale - offset
    length = end - start
    if not aligned:
        length = max(length, T(1.0))
    bin_size = length / T(pooled)
    grid = sampling_ratio if sampling_ratio > 0 else int(np.ceil(length / T(pooled)))
    return start, bin_size, grid


@jit
def _align_axis_samples(rois, start, bin_size, grid, pooled, size,
                        taps_low, taps_high, taps_l, taps_h, at):
    """Bilinear taps of the pooled * grid sample positions along one axis, from index `at`.

    taps_low/taps_high are the two pixels a sample falls between, taps_h/taps_l their weights
    (1 - l and l). A sample outside [-1, size] gets taps_low = -1 and adds nothing; one in
    [-1, 0] reads pixel 0 and one in [size - 1, size] reads pixel size - 1.
    """
    T = rois.dtype.type
    j = at
    for p in range(pooled):
        for i in range(grid):
            pos = start + T(p) * bin_size + T(i + 0.5) * bin_size / T(grid)
            if pos < -1.0 or pos > size:
                taps_low[j] = -1
                taps_high[j] = -1
                taps_l[j] = T(0.0)
                taps_h[j] = T(0.0)
            else:
                if pos <= 0:
                    pos = T(0.0)
                low = int(pos)
                if low >= size - 1:
                    low = size - 1
                    high = size - 1
                    pos = T(low)
                else:
                    high = low + 1
                l_w = pos - T(low)
                taps_low[j] = low
                taps_high[j] = high
                taps_l[j] = l_w
                taps_h[j] = T(1.0) - l_w
            j += 1


@jit
def roi_align_sampling(rois, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned,
                       height, width):
    """Every sample RoI align takes, as separable bilinear taps shared by all channels.

    rois (K, 5) -> grid (K, 2) int64, the samples per bin along y and x (gy, gx; <= 0 means
    none), and per axis a ragged table: the y samples of RoI k in bin row ph are entries
    ystart[k] + ph * gy + (0 .. gy-1) of ylow, yhigh (int64; ylow = -1 when outside) and
    yh, yl (weights of ylow and yhigh); the same for x. Sample (iy, ix) of a bin then reads
    x[ylow, xlow] with weight yh * xh, x[ylow, xhigh] with yh * xl, x[yhigh, xlow] with
    yl * xh and x[yhigh, xhigh] with yl * xl.
    """
    K = rois.shape[0]
    grid = np.empty((K, 2), np.int64)
    geometry = np.empty((K, 4), rois.dtype)
    ystart = np.zeros(K + 1, np.int64)
    xstart = np.zeros(K + 1, np.int64)
    for k in range(K):
        y0, ybin, gy = _align_axis_geometry(rois, k, 2, spatial_scale, pooled_h,
                                            sampling_ratio, aligned)
        x0, xbin, gx = _align_axis_geometry(rois, k, 1, spatial_scale, pooled_w,
                                            sampling_ratio, aligned)
        grid[k, 0] = gy
        grid[k, 1] = gx
        geometry[k, 0] = y0
        geometry[k, 1] = ybin
        geometry[k, 2] = x0
        geometry[k, 3] = xbin
        ystart[k + 1] = ystart[k] + pooled_h * max(gy, 0)
        xstart[k + 1] = xstart[k] + pooled_w * max(gx, 0)
    ylow = np.empty(ystart[K], np.int64)
    yhigh = np.empty(ystart[K], np.int64)
    yl = np.empty(ystart[K], rois.dtype)
    yh = np.empty(ystart[K], rois.dtype)
    xlow = np.empty(xstart[K], np.int64)
    xhigh = np.empty(xstart[K], np.int64)
    xl = np.empty(xstart[K], rois.dtype)
    xh = np.empty(xstart[K], rois.dtype)
    for k in range(K):
        _align_axis_samples(rois, geometry[k, 0], geometry[k, 1], grid[k, 0], pooled_h,
                            height, ylow, yhigh, yl, yh, ystart[k])
        _align_axis_samples(rois, geometry[k, 2], geometry[k, 3], grid[k, 1], pooled_w,
                            width, xlow, xhigh, xl, xh, xstart[k])
    return grid, ystart, ylow, yhigh, yl, yh, xstart, xlow, xhigh, xl, xh


@jit_parallel
def roi_align_forward(x, rois, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned):
    """Average of gy x gx bilinear samples in each bin of each RoI.

    x (N, C, H, W), rois (K, 5) -> out (K, C, PH, PW) of x's dtype. A bin whose samples all
    fall outside [-1, H] x [-1, W] (or that has none) is 0.
    """
    N, C, H, W = x.shape
    K = rois.shape[0]
    P = pooled_h * pooled_w
    grid, ystart, ylow, yhigh, yl, yh, xstart, xlow, xhigh, xl, xh = roi_align_sampling(
        rois, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned, H, W)
    xc = channels_last(x)
    out = np.empty((K, C, pooled_h, pooled_w), x.dtype)
    out_flat = out.reshape((K, C, P))
    T = x.dtype.type
    for k in prange(K):
        b = int(rois[k, 0])
        gy = grid[k, 0]
        gx = grid[k, 1]
        count = T(max(gy * gx, 1))
        acc = np.empty((P, C), x.dtype)
        for ph in range(pooled_h):
            for pw in range(pooled_w):
                p = ph * pooled_w + pw
                for c in range(C):
                    acc[p, c] = T(0.0)
                for iy in range(gy):
                    j = ystart[k] + ph * gy + iy
                    y0 = ylow[j]
                    if y0 < 0:
                        continue
                    y1 = yhigh[j]
                    for ix in range(gx):
                        i = xstart[k] + pw * gx + ix
                        x0 = xlow[i]
                        if x0 < 0:
                            continue
                        x1 = xhigh[i]
                        w1 = yh[j] * xh[i]
                        w2 = yh[j] * xl[i]
                        w3 = yl[j] * xh[i]
                        w4 = yl[j] * xl[i]
                        for c in range(C):
                            acc[p, c] += (w1 * xc[b, y0, x0, c] + w2 * xc[b, y0, x1, c]
                                          + w3 * xc[b, y1, x0, c] + w4 * xc[b, y1, x1, c])
                for c in range(C):
                    acc[p, c] /= count
        _store_box(out_flat, k, acc)
    return out


CHANNEL_BLOCK = 64
"""Channels per thread task in the RoI align backward: enough for SIMD, and C = 256 still
gives four tasks to share out."""


@jit_parallel
def roi_align_backward(grad_out, rois, spatial_scale, sampling_ratio, aligned, n_images,
                       height, width):
    """Each bin's gradient, divided by its sample count, goes back along the bilinear
    weights of its samples.

    grad_out (K, C, PH, PW), rois (K, 5) -> grad_x (N, C, H, W).

    Threads take blocks of CHANNEL_BLOCK channels, each accumulating into its own
    (N, H, W, CHANNEL_BLOCK) slab; the block index leads so that the innermost index is the
    loop counter itself, which lets the compiler prove it in range and vectorise.
    """
    K, C, PH, PW = grad_out.shape
    grid, ystart, ylow, yhigh, yl, yh, xstart, xlow, xhigh, xl, xh = roi_align_sampling(
        rois, spatial_scale, PH, PW, sampling_ratio, aligned, height, width)
    n_blocks = (C + CHANNEL_BLOCK - 1) // CHANNEL_BLOCK
    slabs = np.zeros((n_blocks, n_images, height, width, CHANNEL_BLOCK), grad_out.dtype)
    T = grad_out.dtype.type
    for blk in prange(n_blocks):
        c0 = blk * CHANNEL_BLOCK
        nc = min(CHANNEL_BLOCK, C - c0)
        g = np.empty((PH * PW, nc), grad_out.dtype)
        for k in range(K):
            b = int(rois[k, 0])
            gy = grid[k, 0]
            gx = grid[k, 1]
            if gy <= 0 or gx <= 0:
                continue                        # no samples, no gradient
            count = T(gy * gx)
            # torchvision divides every weighted term by count; dividing the bin's gradient
            # once is 4x faster here and differs only in the last bit
            for c in range(nc):
                for ph in range(PH):
                    for pw in range(PW):
                        g[ph * PW + pw, c] = grad_out[k, c0 + c, ph, pw] / count
            for ph in range(PH):
                for pw in range(PW):
                    p = ph * PW + pw
                    for iy in range(gy):
                        j = ystart[k] + ph * gy + iy
                        y0 = ylow[j]
                        if y0 < 0:
                            continue
                        y1 = yhigh[j]
                        for ix in range(gx):
                            i = xstart[k] + pw * gx + ix
                            x0 = xlow[i]
                            if x0 < 0:
                                continue
                            x1 = xhigh[i]
                            w1 = yh[j] * xh[i]
                            w2 = yh[j] * xl[i]
                            w3 = yl[j] * xh[i]
                            w4 = yl[j] * xl[i]
                            for c in range(nc):
                                slabs[blk, b, y0, x0, c] += g[p, c] * w1
                                slabs[blk, b, y0, x1, c] += g[p, c] * w2
                                slabs[blk, b, y1, x0, c] += g[p, c] * w3
                                slabs[blk, b, y1, x1, c] += g[p, c] * w4
    grad_x = np.empty((n_images, C, height, width), grad_out.dtype)
    for nc_ in prange(n_images * C):
        n = nc_ // C
        c = nc_ % C
        for h in range(height):
            for w in range(width):
                grad_x[n, c, h, w] = slabs[c // CHANNEL_BLOCK, n, h, w, c % CHANNEL_BLOCK]
    return grad_x
