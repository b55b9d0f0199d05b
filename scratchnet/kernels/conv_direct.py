"""Direct convolution for few channels: stride 1, no im2col, no matrix product.

    image (N, C, H, W), weight (K, C, kh, kw) with kw in DIRECT_KERNEL_WIDTHS
        ->  out (N, K, H', W'),   H' = H + top + bottom - dh*(kh - 1)

    out[n, k, y, t] = sum over c, i, j of weight[k, c, i, j] * image[n, c, y - top + i*dh,
                                                                       t - left + j*dw]

(image = 0 outside). Where im2col + GEMM multiplies a thin (K, C*kh*kw) matrix by the
columns, a BLAS runs far below its peak (LeNet's and ConvNetJS's 16-20 filters: 40-50
GFLOP/s against 85 for ResNet's 128), and copying the columns costs as much again. Here:

1. The padded image is copied into a "wide" plane of width Wp = W' + dw*(kw - 1), so output
   pixel (y, t) and its tap (i, j) sit i*dh*Wp + j*dw apart in memory for every pixel. Each
   output plane is then computed as one long run q = y*Wp + t over all its rows at once,
   the Wp - W' columns of each row being wasted work that is thrown away. Small images
   (LeNet's 14x14) are laid side by side, B of them in rows of B*Wp values, so that a run
   is long (about TARGET_RUN positions) without computing the rows between images.
2. The inner loop adds a whole row of kw taps to four output channels at once:
       acc_k[q] += w[k,c,i,0]*x[q + o] + w[k,c,i,1]*x[q + o + dw] + ...   (k = 4 channels)
   so every pixel loaded serves 4*kw multiply-adds and every store kw of them. A loop over
   single taps stores once per multiply-add and ran 2-4x slower. The row of taps is spelt
   out, so there is one loop per kernel width (3 and 5: the course's 3x3 and 5x5 layers).
3. Runs are rounded up to a multiple of RUN_MULTIPLE elements: the compiler vectorises the
   loop several vectors at a time and finishes a remainder one element at a time, which for
   a 316-element run (ConvNetJS conv2) cost more than the vector part (its forward pass, with
   this and four filters per pass instead of two: 5.7 -> 1.9 ms). The extra positions read
   the plane's zero slack or pixels of the last rows, and their sums are never copied out.

The input gradient of a stride-1 convolution is again a stride-1 convolution (a "full"
correlation of the output gradient with the flipped kernel, channels swapped), so the same
kernel computes it: see scratchnet/ops/conv.py. The weight gradient stays an im2col + GEMM
(a dot product per weight, which cannot be vectorised without reordering the sum).

The blocks of B images are handed to numba's prange, each with its own buffers: the kernel
replaces a GEMM that would run on every BLAS thread, so it uses numba's threads the same way.
With NUMBA_NUM_THREADS=1 it is plain serial code (measured: the same time as a serial build,
ConvNetJS conv1 forward 1.3-1.9 ms either way). With two threads on cores that other jobs
use too, it gained nothing measurable and once waited at its barrier (1.4-4.1 ms against
1.3-1.4 ms serial), as im2col's threaded build did (see im2col.py); a whole ConvNetJS conv2
forward + backward took 7.6-10.5 ms with two numba threads against 8.5-10.3 ms with one
(one BLAS thread both times). The figures in scratchnet/ops/conv.py are one-thread figures.

When this path is chosen over im2col + GEMM, and the measured crossover, is in
scratchnet/ops/conv.py (DIRECT_MAX_FILTERS; `python benchmarks/bench_conv.py --extras
--direct` prints the table): up to 32 output channels, and only where at least 60% of the
multiply-adds here make an output (`useful_fraction`). From that table (one thread, CPU
time), GEMM time / direct time for one pass:

    ConvNetJS conv1 (32,3,32,32) k5 p2 -> 16     forward 1.47   input gradient 1.34
    ConvNetJS conv2 (32,16,16,16) k5 p2 -> 20    forward 1.42   input gradient 1.37
    LeNet conv2 (64,6,14,14) k5 -> 16            forward 1.06   input gradient 0.53 (GEMM)
    3..64 -> 8..32 channels, 3x3 and 5x5, 16x16 and 32x32 maps      1.12-2.73
    3..64 -> 64 channels                                             0.90-2.78 (GEMM)

Indices inside the inner loops are unsigned, as in im2col.py. The callers validate every
argument; these kernels trust their input (C-contiguous, matching dtypes).
"""
from __future__ import annotations

import numpy as np
from numba import uint64

from ._jit import jit, jit_inline, jit_parallel, prange

DIRECT_KERNEL_WIDTHS = (3, 5)
RUN_MULTIPLE = 64
BLOCK = 4                 # output channels per pass over the input
TARGET_RUN = 1024         # images side by side until a run has about this many positions


def direct_geometry(image_shape, kernel, out_hw, dilation):
    """(images per block B, run length, buffer length) of the wide layout: B padded images
    side by side in rows of B*Wp values."""
    kh, kw = kernel
    dh, dw = dilation
    oh, ow = out_hw
    Hp, Wp = oh + dh * (kh - 1), ow + dw * (kw - 1)
    B = max(1, min(image_shape[0], TARGET_RUN // (Hp * Wp)))
    row = B * Wp
    run = -(-((oh - 1) * row + (B - 1) * Wp + ow) // RUN_MULTIPLE) * RUN_MULTIPLE
    # the run's last position reads up to (kh-1)*dh rows and (kw-1)*dw columns further on
    length = max(Hp * row, run + (kh - 1) * dh * row + (kw - 1) * dw)
    return B, run, length


def useful_fraction(image_shape, kernel, out_hw, dilation, channels_out):
    """The share of the kernel's multiply-adds that make an output: the rest go to the Wp - W'
    columns of each wide row, the rows between stacked images, the run's rounding and the
    repeated filters that fill the last block of BLOCK."""
    if channels_out == 0 or 0 in image_shape:
        return 0.0                      # nothing to compute
    B, run, _ = direct_geometry(image_shape, kernel, out_hw, dilation)
    blocks = -(-channels_out // BLOCK)
    return (B * out_hw[0] * out_hw[1] / run) * (channels_out / (blocks * BLOCK))


@jit
def _fill_planes(image, n0, b, planes, top, left, Hp, Wp, row):
    """planes (C, length) = images n0..n0+b-1 zero-padded to Hp x Wp (top, left: the rows and
    columns added before the first pixel; negative crops), side by side in rows of `row`."""
    N, C, H, W = image.shape
    planes[:] = 0
    y_lo, y_hi = max(0, -top), min(H, Hp - top)
    t_lo, t_hi = max(0, -left), min(W, Wp - left)
    for c in range(C):
        for bb in range(b):
            for y in range(y_lo, y_hi):
                dst = (y + top) * row + bb * Wp + left
                for t in range(t_lo, t_hi):
                    planes[c, dst + t] = image[n0 + bb, c, y, t]


@jit_inline
def _taps3(acc, xf, o, d, run, w, k, c, i):
    """acc[m, q] += the 3 taps of weight row (k+m, c, i) at x[o + q], for m < BLOCK."""
    a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
    K = w.shape[0] - 1      # a last block of fewer than 4 filters repeats the last one
    k0, k1, k2, k3 = k, min(k + 1, K), min(k + 2, K), min(k + 3, K)
    u0, u1, u2 = w[k0, c, i, 0], w[k0, c, i, 1], w[k0, c, i, 2]
    v0, v1, v2 = w[k1, c, i, 0], w[k1, c, i, 1], w[k1, c, i, 2]
    r0, r1, r2 = w[k2, c, i, 0], w[k2, c, i, 1], w[k2, c, i, 2]
    s0, s1, s2 = w[k3, c, i, 0], w[k3, c, i, 1], w[k3, c, i, 2]
    o0 = uint64(o)
    o1, o2 = o0 + uint64(d), o0 + uint64(2 * d)
    for q in range(uint64(run)):
        x0, x1, x2 = xf[o0 + q], xf[o1 + q], xf[o2 + q]
        a0[q] += u0 * x0 + u1 * x1 + u2 * x2
        a1[q] += v0 * x0 + v1 * x1 + v2 * x2
        a2[q] += r0 * x0 + r1 * x1 + r2 * x2
        a3[q] += s0 * x0 + s1 * x1 + s2 * x2


@jit_inline
def _taps5(acc, xf, o, d, run, w, k, c, i):
    """acc[m, q] += the 5 taps of weight row (k+m, c, i) at x[o + q], for m < BLOCK."""
    a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
    K = w.shape[0] - 1
    k0, k1, k2, k3 = k, min(k + 1, K), min(k + 2, K), min(k + 3, K)
    u0, u1, u2, u3, u4 = w[k0, c, i, 0], w[k0, c, i, 1], w[k0, c, i, 2], w[k0, c, i, 3], \
        w[k0, c, i, 4]
    v0, v1, v2, v3, v4 = w[k1, c, i, 0], w[k1, c, i, 1], w[k1, c, i, 2], w[k1, c, i, 3], \
        w[k1, c, i, 4]
    r0, r1, r2, r3, r4 = w[k2, c, i, 0], w[k2, c, i, 1], w[k2, c, i, 2], w[k2, c, i, 3], \
        w[k2, c, i, 4]
    s0, s1, s2, s3, s4 = w[k3, c, i, 0], w[k3, c, i, 1], w[k3, c, i, 2], w[k3, c, i, 3], \
        w[k3, c, i, 4]
    o0 = uint64(o)
    o1, o2 = o0 + uint64(d), o0 + uint64(2 * d)
    o3, o4 = o0 + uint64(3 * d), o0 + uint64(4 * d)
    for q in range(uint64(run)):
        x0, x1, x2, x3, x4 = xf[o0 + q], xf[o1 + q], xf[o2 + q], xf[o3 + q], xf[o4 + q]
        a0[q] += u0 * x0 + u1 * x1 + u2 * x2 + u3 * x3 + u4 * x4
        a1[q] += v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3 + v4 * x4
        a2[q] += r0 * x0 + r1 * x1 + r2 * x2 + r3 * x3 + r4 * x4
        a3[q] += s0 * x0 + s1 * x1 + s2 * x2 + s3 * x3 + s4 * x4


@jit_parallel
def direct_conv2d(image, weight, out, top, left, dh, dw, B, run, length):
    """out (N, K, H', W') = the stride-1 convolution of image (N, C, H, W) with weight
    (K, C, kh, kw), kw in DIRECT_KERNEL_WIDTHS, padded by top/left (the bottom/right padding
    follows from H', W'). B, run, length: from direct_geometry. out is overwritten."""
    N, C, H, W = image.shape
    K, kh, kw = weight.shape[0], weight.shape[2], weight.shape[3]
    oh, ow = out.shape[2], out.shape[3]
    Hp, Wp = oh + dh * (kh - 1), ow + dw * (kw - 1)
    row = B * Wp
    for block in prange(-(-N // B)):
        n0 = block * B
        b = min(B, N - n0)
        planes = np.empty((C, length), image.dtype)
        acc = np.empty((BLOCK, run), out.dtype)
        _fill_planes(image, n0, b, planes, top, left, Hp, Wp, row)
        for k in range(0, K, BLOCK):
            acc[:] = 0
            for c in range(C):
                xf = planes[c]
                for i in range(kh):
                    if kw == 5:
                        _taps5(acc, xf, i * dh * row, dw, run, weight, k, c, i)
                    else:
                        _taps3(acc, xf, i * dh * row, dw, run, weight, k, c, i)
            for m in range(min(BLOCK, K - k)):
                for bb in range(b):
                    for y in range(oh):
                        src = y * row + bb * Wp
                        for t in range(ow):
                            out[n0 + bb, k + m, y, t] = acc[m, src + t]
    return out
