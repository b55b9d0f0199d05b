"""Depthwise convolution as a direct loop (MobileNet's depthwise layer, groups == C).

    image (N, C, H, W), weight (K, 1, kh, kw) with K = m*C  ->  out (N, K, H', W')
    out[n, k, y, t] = sum over i, j of weight[k, 0, i, j] * image[n, k // m, y*sh - ph + i*dh,
                                                                    t*sw - pw + j*dw]

Every output channel reads one input channel, so im2col + GEMM would multiply a (m, kh*kw)
matrix by the columns: kh*kw terms per output, and copying the columns would cost more than
the arithmetic. Instead each tap (i, j) adds a scaled, shifted copy of the input plane to
the output plane: a long run of multiply-adds over contiguous memory that the compiler
vectorises, with the planes staying in the L1 cache for all kh*kw taps.

The three kernels are forward, input gradient (the same loops with source and destination
swapped: the adjoint) and weight gradient (a dot product per tap). `valid_range` gives the
output positions whose tap lands inside the image (see im2col.py), so the loops never test
for padding pixel by pixel. Indices are unsigned for the reason given in im2col.py.
The callers validate every argument; these kernels trust their input (C-contiguous).
"""
from __future__ import annotations

import numpy as np
from numba import uint64

from ._jit import jit
from .im2col import valid_range


@jit
def depthwise_forward(image, weight, out, kh, kw, sh, sw, ph, pw, dh, dw):
    """out (N, K, H', W') = depthwise convolution of image (N, C, H, W) with weight
    (K, 1, kh, kw). out is overwritten."""
    N, C, H, W = image.shape
    K, out_h, out_w = out.shape[1], out.shape[2], out.shape[3]
    m = K // C
    xf = image.reshape(-1)
    of = out.reshape(-1)
    usw = uint64(sw)
    for n in range(N):
        for k in range(K):
            c = k // m
            plane = uint64((n * K + k) * out_h * out_w)
            for q in range(uint64(out_h * out_w)):
                of[plane + q] = 0
            for i in range(kh):
                ylo, yhi = valid_range(i * dh - ph, H, sh, out_h)
                for j in range(kw):
                    xlo, xhi = valid_range(j * dw - pw, W, sw, out_w)
                    wv = weight[k, 0, i, j]
                    for y in range(ylo, yhi):
                        dst = uint64(((n * K + k) * out_h + y) * out_w + xlo)
                        src = uint64(((n * C + c) * H + y * sh + i * dh - ph) * W
                                     + xlo * sw + j * dw - pw)
                        if sw == 1:
                            for t in range(uint64(xhi - xlo)):
                                of[dst + t] += wv * xf[src + t]
                        else:
                            for t in range(uint64(xhi - xlo)):
                                of[dst + t] += wv * xf[src + t * usw]
    return out


@jit
def depthwise_input_grad(grid, weight, image, kh, kw, sh, sw, ph, pw, dh, dw):
    """image (N, C, H, W) = the adjoint of depthwise_forward applied to grid (N, K, H', W'):
    every output value sends weight-scaled copies back to the pixels it read. image is
    overwritten."""
    N, C, H, W = image.shape
    K, out_h, out_w = grid.shape[1], grid.shape[2], grid.shape[3]
    m = K // C
    xf = image.reshape(-1)
    gf = grid.reshape(-1)
    for q in range(uint64(xf.size)):
        xf[q] = 0
    usw = uint64(sw)
    for n in range(N):
        for k in range(K):
            c = k // m
            for i in range(kh):
                ylo, yhi = valid_range(i * dh - ph, H, sh, out_h)
                for j in range(kw):
                    xlo, xhi = valid_range(j * dw - pw, W, sw, out_w)
                    wv = weight[k, 0, i, j]
                    for y in range(ylo, yhi):
                        src = uint64(((n * K + k) * out_h + y) * out_w + xlo)
                        dst = uint64(((n * C + c) * H + y * sh + i * dh - ph) * W
                                     + xlo * sw + j * dw - pw)
                        if sw == 1:
                            for t in range(uint64(xhi - xlo)):
                                xf[dst + t] += wv * gf[src + t]
                        else:
                            for t in range(uint64(xhi - xlo)):
                                xf[dst + t * usw] += wv * gf[src + t]
    return image


@jit
def depthwise_weight_grad(image, grid, dweight, kh, kw, sh, sw, ph, pw, dh, dw):
    """dweight (K, kh, kw) = sum over n, y, t of grid[n, k, y, t] * (the pixel tap (i, j)
    of output (y, t) read). dweight is overwritten.

    Each tap's dot product is accumulated elementwise in a row of `acc` and summed at the
    end: a plain running sum would be one long dependency chain that cannot be vectorised
    without reordering the additions (fastmath), which scratchnet does not allow.
    """
    N, C, H, W = image.shape
    K, out_h, out_w = grid.shape[1], grid.shape[2], grid.shape[3]
    m = K // C
    xf = image.reshape(-1)
    gf = grid.reshape(-1)
    acc = np.empty(kh * kw * out_w, dtype=dweight.dtype)
    usw = uint64(sw)
    for k in range(K):
        c = k // m
        acc[:] = 0
        for n in range(N):
            for i in range(kh):
                ylo, yhi = valid_range(i * dh - ph, H, sh, out_h)
                for j in range(kw):
                    xlo, xhi = valid_range(j * dw - pw, W, sw, out_w)
                    a0 = uint64((i * kw + j) * out_w + xlo)
                    for y in range(ylo, yhi):
                        src = uint64(((n * K + k) * out_h + y) * out_w + xlo)
                        pix = uint64(((n * C + c) * H + y * sh + i * dh - ph) * W
                                     + xlo * sw + j * dw - pw)
                        if sw == 1:
                            for t in range(uint64(xhi - xlo)):
                                acc[a0 + t] += gf[src + t] * xf[pix + t]
                        else:
                            for t in range(uint64(xhi - xlo)):
                                acc[a0 + t] += gf[src + t] * xf[pix + t * usw]
        for i in range(kh):
            for j in range(kw):
                a0 = (i * kw + j) * out_w
                dweight[k, i, j] = acc[a0:a0 + out_w].sum()
    return dweight
