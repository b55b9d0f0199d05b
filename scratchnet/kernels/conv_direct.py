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
kernel computes it: see scratchnet/ops/conv.py. The weight gradient is one dot product per
weight over the same wide rows: direct_conv2d_weight_grad, further down.

The blocks of B images are handed to numba's prange, each with its own buffers: the kernel
replaces a GEMM that would run on every BLAS thread, so it uses numba's threads the same way.
With NUMBA_NUM_THREADS=1 it is plain serial code (measured: the same time as a serial build,
ConvNetJS conv1 forward 1.3-1.9 ms either way). With two threads and nothing else running the
ConvNetJS conv2 forward pass takes 1.0 ms against 2.1 with one. That holds when the layer's
three passes are all ours: while the weight gradient was still a 2-thread OpenBLAS GEMM, the
BLAS threads, which spin for a while after each product, held the second core when numba
woke its thread, and the forward pass took 1.0-2.2 ms with two threads from one run to the
next (the whole layer, forward and backward: 4.1-9.5 ms, now 3.3-3.4). The figures in
scratchnet/ops/conv.py are one-thread figures.

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

and for the weight gradient (direct_conv2d_weight_grad, the same rule):

    ConvNetJS conv1 1.50, ConvNetJS conv2 1.38, LeNet conv2 1.10
    3..64 -> 8..32 channels 0.98-2.41, 3..64 -> 64 channels 0.81-1.47 (GEMM)

Indices inside the inner loops are unsigned, as in im2col.py. The callers validate every
argument; these kernels trust their input (C-contiguous, matching dtypes).
"""
from __future__ import annotations

import numpy as np
from numba import uint64

from ._jit import jit, jit_inline, jit_inline_sums, jit_parallel, jit_parallel_sums, prange

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


# The weight gradient.
#
#     dweight[k, c, i, j] = sum over n, y, t of grid[n, k, y, t] * image[n, c, y - top + i*dh,
#                                                                        t - left + j*dw]
#
# In the wide layout of the forward pass, with the output gradient laid out the same way
# (gw[k, q], q = y*row + bb*Wp + t, zero in the Wp - W' thrown-away columns), every weight is
# one dot product over the run: sum over q of gw[k, q] * xf[c][i*dh*row + j*dw + q]. The
# helpers below compute the BLOCK x kw dot products of a row of taps in one pass, so that a
# loaded pixel serves BLOCK products and a loaded gradient kw. They are compiled with
# SUM_ORDER_FLAGS (see _jit.py): without them a dot product adds in strict order, one number
# at a time, and runs several times slower than a GEMM; with them LLVM keeps each sum in
# vector lanes (ConvNetJS conv2's weight gradient: 15 ms strict, 1.9 ms reordered, against
# 2.5 ms for im2col + GEMM).
#
# The blocks of B images are split into at most WEIGHT_GRAD_SLOTS contiguous runs of blocks
# ("slots"), each summed into its own copy of the gradient, and the copies are added at the
# end (scratchnet/ops/conv.py). The slots follow from the shapes only, so the result does not
# change with the number of threads.

WEIGHT_GRAD_SLOTS = 32


def weight_grad_slots(N, B):
    """How many partial weight gradients direct_conv2d_weight_grad fills for N images in
    blocks of B."""
    return max(1, min(-(-N // B), WEIGHT_GRAD_SLOTS))


@jit
def _fill_grid(grid, n0, b, gw, row, Wp):
    """gw (K, run) = the output gradient of images n0..n0+b-1 in the wide layout, zero in the
    thrown-away columns, the rows between images and the run's rounding."""
    K, oh, ow = grid.shape[1], grid.shape[2], grid.shape[3]
    gw[:] = 0
    for k in range(K):
        for bb in range(b):
            for y in range(oh):
                dst = y * row + bb * Wp
                for t in range(ow):
                    gw[k, dst + t] = grid[n0 + bb, k, y, t]


@jit_inline_sums
def _dots3(gw, k, xf, o, d, run):
    """((sum over q < run of gw[k+m, q] * xf[o + j*d + q]) for j < 3) for m < BLOCK: the
    first terms start the sums, so that they have the arrays' dtype."""
    K = gw.shape[0] - 1     # a last block of fewer than 4 filters repeats the last one
    g0, g1, g2, g3 = gw[k], gw[min(k + 1, K)], gw[min(k + 2, K)], gw[min(k + 3, K)]
    o0 = uint64(o)
    o1, o2 = o0 + uint64(d), o0 + uint64(2 * d)
    x0, x1, x2 = xf[o0], xf[o1], xf[o2]
    u, v, r, s = g0[0], g1[0], g2[0], g3[0]
    a0, a1, a2 = u * x0, u * x1, u * x2
    b0, b1, b2 = v * x0, v * x1, v * x2
    c0, c1, c2 = r * x0, r * x1, r * x2
    e0, e1, e2 = s * x0, s * x1, s * x2
    for q in range(uint64(1), uint64(run)):
        x0, x1, x2 = xf[o0 + q], xf[o1 + q], xf[o2 + q]
        u, v, r, s = g0[q], g1[q], g2[q], g3[q]
        a0 += u * x0
        a1 += u * x1
        a2 += u * x2
        b0 += v * x0
        b1 += v * x1
        b2 += v * x2
        c0 += r * x0
        c1 += r * x1
        c2 += r * x2
        e0 += s * x0
        e1 += s * x1
        e2 += s * x2
    return (a0, a1, a2), (b0, b1, b2), (c0, c1, c2), (e0, e1, e2)


@jit_inline_sums
def _dots5(gw, k, xf, o, d, run):
    """((sum over q < run of gw[k+m, q] * xf[o + j*d + q]) for j < 5) for m < BLOCK."""
    K = gw.shape[0] - 1
    g0, g1, g2, g3 = gw[k], gw[min(k + 1, K)], gw[min(k + 2, K)], gw[min(k + 3, K)]
    o0 = uint64(o)
    o1, o2 = o0 + uint64(d), o0 + uint64(2 * d)
    o3, o4 = o0 + uint64(3 * d), o0 + uint64(4 * d)
    x0, x1, x2, x3, x4 = xf[o0], xf[o1], xf[o2], xf[o3], xf[o4]
    u, v, r, s = g0[0], g1[0], g2[0], g3[0]
    a0, a1, a2, a3, a4 = u * x0, u * x1, u * x2, u * x3, u * x4
    b0, b1, b2, b3, b4 = v * x0, v * x1, v * x2, v * x3, v * x4
    c0, c1, c2, c3, c4 = r * x0, r * x1, r * x2, r * x3, r * x4
    e0, e1, e2, e3, e4 = s * x0, s * x1, s * x2, s * x3, s * x4
    for q in range(uint64(1), uint64(run)):
        x0, x1, x2, x3, x4 = xf[o0 + q], xf[o1 + q], xf[o2 + q], xf[o3 + q], xf[o4 + q]
        u, v, r, s = g0[q], g1[q], g2[q], g3[q]
        a0 += u * x0
        a1 += u * x1
        a2 += u * x2
        a3 += u * x3
        a4 += u * x4
        b0 += v * x0
        b1 += v * x1
        b2 += v * x2
        b3 += v * x3
        b4 += v * x4
        c0 += r * x0
        c1 += r * x1
        c2 += r * x2
        c3 += r * x3
        c4 += r * x4
        e0 += s * x0
        e1 += s * x1
        e2 += s * x2
        e3 += s * x3
        e4 += s * x4
    return (a0, a1, a2, a3, a4), (b0, b1, b2, b3, b4), (c0, c1, c2, c3, c4), \
        (e0, e1, e2, e3, e4)


@jit_inline
def _add_sums(acc, sums, k, c, i):
    """acc[k + m, c, i, j] += sums[m][j] for the filters of the block that exist."""
    for m in range(min(BLOCK, acc.shape[0] - k)):
        for j in range(acc.shape[3]):
            acc[k + m, c, i, j] += sums[m][j]


@jit_parallel_sums
def direct_conv2d_weight_grad(image, grid, partial, top, left, dh, dw, B, run, length):
    """partial (S, K, C, kh, kw), S = weight_grad_slots(N, B): slot s = the weight gradient
    of its run of blocks of B images; their sum over s is the weight gradient of the
    stride-1 convolution of image (N, C, H, W) padded by top/left, given the output gradient
    grid (N, K, H', W'). B, run, length: from direct_geometry. partial is overwritten."""
    N, C, H, W = image.shape
    K, oh, ow = grid.shape[1], grid.shape[2], grid.shape[3]
    S, kh, kw = partial.shape[0], partial.shape[3], partial.shape[4]
    Hp, Wp = oh + dh * (kh - 1), ow + dw * (kw - 1)
    row = B * Wp
    blocks = -(-N // B)
    for slot in prange(S):
        acc = partial[slot]
        acc[:] = 0
        planes = np.empty((C, length), image.dtype)
        gw = np.empty((K, run), grid.dtype)
        for block in range(slot * blocks // S, (slot + 1) * blocks // S):
            n0 = block * B
            b = min(B, N - n0)
            _fill_planes(image, n0, b, planes, top, left, Hp, Wp, row)
            _fill_grid(grid, n0, b, gw, row, Wp)
            for k in range(0, K, BLOCK):
                for c in range(C):
                    xf = planes[c]
                    for i in range(kh):
                        if kw == 5:
                            _add_sums(acc, _dots5(gw, k, xf, i * dh * row, dw, run), k, c, i)
                        else:
                            _add_sums(acc, _dots3(gw, k, xf, i * dh * row, dw, run), k, c, i)
    return partial
