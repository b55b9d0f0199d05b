"""Slow RoI pool / RoI align written as plain Python loops from torchvision's documented rules.

This is the yardstick for the numba kernels on the cases PyTorch itself cannot reach (boxes
crossing the border, boxes smaller than a bin, C rounding of .5 coordinates, empty bins). It
shares no code with scratchnet: one pixel, one sample, one weight at a time, in the order the
rules are stated. Arithmetic runs in the dtype of x (NumPy scalars), so float32 inputs round
where the float32 kernels round.

RoI pool (Fast R-CNN, torchvision.ops.roi_pool):
  box on the map: start = round(x1 * scale), end = round(x2 * scale) with C rounding (halves
  away from zero); size = max(end - start + 1, 1); bin p spans
  [floor(p * size / P), ceil((p + 1) * size / P)) + start, clipped to [0, H]; an empty bin
  gives 0 and no gradient; otherwise the max (first strictly larger value wins) and the
  gradient goes to that pixel.

RoI align (Mask R-CNN, torchvision.ops.roi_align):
  start = x1 * scale - (0.5 if aligned else 0); length = (x2 - x1) * scale, at least 1 when not
  aligned; grid = sampling_ratio if > 0 else ceil(length / P) samples per bin along the axis,
  at start + p * bin + (i + 0.5) * bin / grid. A sample with y < -1 or y > H (x likewise) adds
  0; otherwise y is raised to 0 if negative, and one at or past H - 1 reads row H - 1 only.
  Bilinear weights (1-ly)(1-lx), (1-ly)lx, ly(1-lx), ly lx; the bin is the sum over samples
  divided by max(gy * gx, 1). The gradient flows back with the same weights / count.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

FLT_MAX = float(np.finfo(np.float32).max)


def c_round(v):
    """Round half away from zero, as C's round(); Decimal holds the float exactly."""
    return int(Decimal(float(v)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def pool_bins(start, end, pooled, limit, T):
    """[(lo, hi)] of each bin along one axis, clipped to [0, limit]."""
    size = max(end - start + 1, 1)
    bins = []
    for p in range(pooled):
        lo = math.floor(T(p) * (T(size) / T(pooled))) + start
        hi = math.ceil(T(p + 1) * (T(size) / T(pooled))) + start
        bins.append((min(max(lo, 0), limit), min(max(hi, 0), limit)))
    return bins


def roi_pool(x, rois, output_size, spatial_scale=1.0):
    """x (N, C, H, W), rois (K, 5) -> out (K, C, PH, PW), argmax (K, C, PH, PW)."""
    T = x.dtype.type
    N, C, H, W = x.shape
    PH, PW = output_size
    rois = rois.astype(x.dtype)
    out = np.zeros((len(rois), C, PH, PW), x.dtype)
    arg = np.full((len(rois), C, PH, PW), -1, np.int64)
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        b = int(b)
        rows = pool_bins(c_round(y1 * T(spatial_scale)), c_round(y2 * T(spatial_scale)), PH,
                         H, T)
        cols = pool_bins(c_round(x1 * T(spatial_scale)), c_round(x2 * T(spatial_scale)), PW,
                         W, T)
        for c in range(C):
            for ph, (h0, h1) in enumerate(rows):
                for pw, (w0, w1) in enumerate(cols):
                    if h1 <= h0 or w1 <= w0:
                        continue
                    best, at = -FLT_MAX, -1
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            if x[b, c, h, w] > best:
                                best, at = x[b, c, h, w], h * W + w
                    out[k, c, ph, pw] = best
                    arg[k, c, ph, pw] = at
    return out, arg


def roi_pool_backward(grad_out, argmax, rois, input_shape):
    N, C, H, W = input_shape
    grad = np.zeros(input_shape, grad_out.dtype)
    K, _, PH, PW = grad_out.shape
    for k in range(K):
        b = int(rois[k, 0])
        for c in range(C):
            for ph in range(PH):
                for pw in range(PW):
                    at = argmax[k, c, ph, pw]
                    if at >= 0:
                        grad[b, c, at // W, at % W] += grad_out[k, c, ph, pw]
    return grad


def _axis(lo, hi, scale, pooled, sampling_ratio, aligned, T):
    offset = T(0.5) if aligned else T(0.0)
    start = lo * T(scale) - offset
    length = (hi * T(scale) - offset) - start
    if not aligned:
        length = max(length, T(1.0))
    bin_size = length / T(pooled)
    grid = sampling_ratio if sampling_ratio > 0 else int(math.ceil(length / T(pooled)))
    return start, bin_size, grid


def _bilinear_taps(y, x, H, W, T):
    """[(row, col, weight)] of one sample; [] when it falls outside [-1, H] x [-1, W]."""
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return []
    y = max(y, T(0.0))
    x = max(x, T(0.0))
    y0, x0 = int(y), int(x)
    if y0 >= H - 1:
        y0 = y1 = H - 1
        y = T(y0)
    else:
        y1 = y0 + 1
    if x0 >= W - 1:
        x0 = x1 = W - 1
        x = T(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - T(y0), x - T(x0)
    hy, hx = T(1.0) - ly, T(1.0) - lx
    return [(y0, x0, hy * hx), (y0, x1, hy * lx), (y1, x0, ly * hx), (y1, x1, ly * lx)]


def _align_samples(box, H, W, output_size, spatial_scale, sampling_ratio, aligned, T):
    """For each bin (ph, pw): (count, [taps of every sample])."""
    _, x1, y1, x2, y2 = box
    PH, PW = output_size
    ys, ybin, gy = _axis(y1, y2, spatial_scale, PH, sampling_ratio, aligned, T)
    xs, xbin, gx = _axis(x1, x2, spatial_scale, PW, sampling_ratio, aligned, T)
    count = T(max(gy * gx, 1))
    bins = {}
    for ph in range(PH):
        for pw in range(PW):
            taps = []
            for iy in range(max(gy, 0)):
                y = ys + T(ph) * ybin + T(iy + 0.5) * ybin / T(gy)
                for ix in range(max(gx, 0)):
                    x = xs + T(pw) * xbin + T(ix + 0.5) * xbin / T(gx)
                    taps.append(_bilinear_taps(y, x, H, W, T))
            bins[ph, pw] = (count, taps)
    return bins


def roi_align(x, rois, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """x (N, C, H, W), rois (K, 5) -> out (K, C, PH, PW)."""
    T = x.dtype.type
    N, C, H, W = x.shape
    PH, PW = output_size
    rois = rois.astype(x.dtype)
    out = np.zeros((len(rois), C, PH, PW), x.dtype)
    for k, box in enumerate(rois):
        b = int(box[0])
        bins = _align_samples(box, H, W, output_size, spatial_scale, sampling_ratio, aligned,
                              T)
        for c in range(C):
            for (ph, pw), (count, samples) in bins.items():
                total = T(0.0)
                for taps in samples:
                    if taps:
                        total = total + sum(wgt * x[b, c, r, q] for r, q, wgt in taps)
                out[k, c, ph, pw] = total / count
    return out


def roi_align_backward(grad_out, rois, input_shape, spatial_scale=1.0, sampling_ratio=-1,
                       aligned=False):
    N, C, H, W = input_shape
    T = grad_out.dtype.type
    rois = rois.astype(grad_out.dtype)
    K, _, PH, PW = grad_out.shape
    grad = np.zeros(input_shape, grad_out.dtype)
    for k, box in enumerate(rois):
        b = int(box[0])
        bins = _align_samples(box, H, W, (PH, PW), spatial_scale, sampling_ratio, aligned, T)
        for c in range(C):
            for (ph, pw), (count, samples) in bins.items():
                for taps in samples:
                    for r, q, wgt in taps:
                        grad[b, c, r, q] += grad_out[k, c, ph, pw] * wgt / count
    return grad
