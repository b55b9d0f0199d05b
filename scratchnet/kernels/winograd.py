"""Winograd's F(2x2, 3x3): a 3x3 stride-1 convolution with 2.25 times fewer multiplications.

Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016), section 4.
In one dimension, two outputs of a 3-tap correlation, y0 = d0 g0 + d1 g1 + d2 g2 and
y1 = d1 g0 + d2 g1 + d3 g2, take four multiplications instead of six:

    m0 = (d0 - d2) g0              m2 = (d2 - d1) (g0 - g1 + g2) / 2
    m1 = (d1 + d2) (g0 + g1 + g2) / 2        m3 = (d1 - d3) g2
    y0 = m0 + m1 + m2              y1 = m1 - m2 - m3

that is y = A^T [(G g) * (B^T d)] with

    B^T = [1  0 -1  0]      G = [ 1    0    0 ]      A^T = [1  1  1  0]
          [0  1  1  0]          [1/2  1/2  1/2]            [0  1 -1 -1]
          [0 -1  1  0]          [1/2 -1/2  1/2]
          [0  1  0 -1]          [ 0    0    1 ]

Nested, a 4x4 tile d of the input gives a 2x2 tile of the output: Y = A^T [U * V] A with
U = G g G^T (the filter, once per layer) and V = B^T d B (the data): 16 multiplications for
the 36 of the direct way. Summed over the C input channels, each of the 16 positions xi of
the 4x4 tile is a matrix product:

    M[xi] (K, tiles) = U[xi] (K, C) @ V[xi] (C, tiles)

so a layer is an input transform, 16 products (BLAS) and an output transform, and the
products do 16/36 of im2col + GEMM's multiply-adds. The transforms only add and subtract.

The weight gradient is the same computation read backwards (the adjoint of each step):
dM[xi] = A dY A^T from each 2x2 tile of the output gradient, dU[xi] = sum over tiles of
dM[xi] @ V[xi]^T, and dW = G^T dU G. The input gradient of a stride-1 convolution is again
one (the output gradient correlated with the kernel flipped, channels swapped), so it goes
through the forward kernels: see scratchnet/ops/conv.py.

The kernels below work on whole rows of tiles: row r of the tiling is image r // tiles_h,
tile row r % tiles_h, whose tile (ty, tx) starts at input pixel (2 ty - top, 2 tx - left)
(zero outside the image). Tiles are numbered row by row within the rows given.

Layout: V is (C, 16, tiles), M and dM (K, 16, tiles), U and dU (K, 16, C): the 16 matrices
are the views V[:, xi, :] (rows 16*tiles apart, which BLAS takes as they are). A transform
writes 16 values per tile and channel; laid out so, they land in one stretch of 16*tiles
numbers. As 16 separate matrices they went to 16 places a whole matrix apart, which the
cache holds badly: the input transform of 3x3 at 56 (8 x 64 x 56 x 56, 112 tiles at a time,
one core) took 19.4 ms with the matrices a multiple of 4 KB apart (the same sets of the L1
cache), 5.6 ms with them staggered, and takes 3.2 ms laid out as here; the filter transform
of 512 x 512 filters took 10.2 ms, and takes 4.2.

The callers validate every argument; these kernels trust their input (C-contiguous,
matching dtypes).
"""
from __future__ import annotations

import numpy as np
from numba import uint64

from ._jit import jit, jit_inline


@jit_inline
def _g_times(a, b, c):
    """G (a, b, c): the four values (a, (a + b + c)/2, (a - b + c)/2, c), in float64 (one
    type for the four, so that a loop can index them; rounded once, where U stores them)."""
    return a * 1.0, (a + b + c) * 0.5, (a - b + c) * 0.5, c * 1.0


@jit
def filter_transform(weight, flip, U):
    """U[k, xi, c] = (G g G^T)[xi] for each 3x3 filter g = weight[k, c] of weight
    (K, C, 3, 3); with flip, U[c, xi, k] for g = weight[k, c] turned by 180 degrees (the
    filters of the input gradient)."""
    K, C = weight.shape[0], weight.shape[1]
    rows, cols = (C, K) if flip else (K, C)
    for row in range(rows):
        for col in range(uint64(cols)):
            if flip:
                k, c = col, row
                g00, g01, g02 = weight[k, c, 2, 2], weight[k, c, 2, 1], weight[k, c, 2, 0]
                g10, g11, g12 = weight[k, c, 1, 2], weight[k, c, 1, 1], weight[k, c, 1, 0]
                g20, g21, g22 = weight[k, c, 0, 2], weight[k, c, 0, 1], weight[k, c, 0, 0]
            else:
                k, c = row, col
                g00, g01, g02 = weight[k, c, 0, 0], weight[k, c, 0, 1], weight[k, c, 0, 2]
                g10, g11, g12 = weight[k, c, 1, 0], weight[k, c, 1, 1], weight[k, c, 1, 2]
                g20, g21, g22 = weight[k, c, 2, 0], weight[k, c, 2, 1], weight[k, c, 2, 2]
            # G down each column of g, then G along each row of the result
            h0, h1, h2 = _g_times(g00, g10, g20), _g_times(g01, g11, g21), _g_times(g02, g12, g22)
            for i in range(4):
                u = _g_times(h0[i], h1[i], h2[i])
                for j in range(4):
                    U[row, 4 * i + j, col] = u[j]


@jit
def filter_grad(dU, dw):
    """dw (K, C, 3, 3) = G^T dU G from dU (K, 16, C): the adjoint of filter_transform."""
    K, C = dw.shape[0], dw.shape[1]
    h = np.empty((3, 4), dw.dtype)
    for k in range(K):
        for c in range(C):
            # G^T down the columns: h[i][b] = (G^T dU[:, b])[i]
            for b in range(4):
                u0, u1, u2, u3 = dU[k, b, c], dU[k, 4 + b, c], dU[k, 8 + b, c], dU[k, 12 + b, c]
                h[0, b] = u0 + (u1 + u2) * 0.5
                h[1, b] = (u1 - u2) * 0.5
                h[2, b] = (u1 + u2) * 0.5 + u3
            # then G^T along the rows
            for i in range(3):
                dw[k, c, i, 0] = h[i, 0] + (h[i, 1] + h[i, 2]) * 0.5
                dw[k, c, i, 1] = (h[i, 1] - h[i, 2]) * 0.5
                dw[k, c, i, 2] = (h[i, 1] + h[i, 2]) * 0.5 + h[i, 3]


@jit
def _tile_rows(xf, plane, H, W, y0, left, nrows, rows, width):
    """rows[i, t] = x[y0 + i, t - left] for i < nrows, t < width, of the plane starting at
    xf[plane] (H, W); zero outside it."""
    for i in range(nrows):
        y = y0 + i
        if y < 0 or y >= H:
            for t in range(uint64(width)):
                rows[i, t] = 0
            continue
        xlo = min(max(left, 0), width)              # columns before the image
        xhi = max(min(W + left, width), xlo)        # ... and after it
        src = uint64(plane + y * W + xlo - left)
        for t in range(uint64(xlo)):
            rows[i, t] = 0
        run = uint64(xlo)
        for t in range(uint64(xhi - xlo)):
            rows[i, run + t] = xf[src + t]
        for t in range(uint64(xhi), uint64(width)):
            rows[i, t] = 0


@jit
def input_transform(xf, C, H, W, r0, r1, tiles_h, top, left, V):
    """V[c, xi, t] = (B^T d B)[xi] for every 4x4 tile d of the tile rows r0..r1-1 of the
    image xf (N, C, H, W, flattened) and every channel c; V is (C, 16, (r1 - r0)*tiles_w)."""
    tiles_w = V.shape[2] // (r1 - r0)
    width = 2 * tiles_w + 2
    rows = np.empty((4, width), xf.dtype)
    for r in range(r0, r1):
        n, ty = r // tiles_h, r % tiles_h
        for c in range(C):
            _tile_rows(xf, (n * C + c) * H * W, H, W, 2 * ty - top, left, 4, rows, width)
            base = uint64((r - r0) * tiles_w)
            for tx in range(uint64(tiles_w)):
                x = 2 * tx
                # B^T along each of the four rows: u[i][j] = (B^T d[i, :])[j]
                u00 = rows[0, x] - rows[0, x + 2]
                u01 = rows[0, x + 1] + rows[0, x + 2]
                u02 = rows[0, x + 2] - rows[0, x + 1]
                u03 = rows[0, x + 1] - rows[0, x + 3]
                u10 = rows[1, x] - rows[1, x + 2]
                u11 = rows[1, x + 1] + rows[1, x + 2]
                u12 = rows[1, x + 2] - rows[1, x + 1]
                u13 = rows[1, x + 1] - rows[1, x + 3]
                u20 = rows[2, x] - rows[2, x + 2]
                u21 = rows[2, x + 1] + rows[2, x + 2]
                u22 = rows[2, x + 2] - rows[2, x + 1]
                u23 = rows[2, x + 1] - rows[2, x + 3]
                u30 = rows[3, x] - rows[3, x + 2]
                u31 = rows[3, x + 1] + rows[3, x + 2]
                u32 = rows[3, x + 2] - rows[3, x + 1]
                u33 = rows[3, x + 1] - rows[3, x + 3]
                # then down the columns: V = B^T u
                t = base + tx
                V[c, 0, t] = u00 - u20
                V[c, 1, t] = u01 - u21
                V[c, 2, t] = u02 - u22
                V[c, 3, t] = u03 - u23
                V[c, 4, t] = u10 + u20
                V[c, 5, t] = u11 + u21
                V[c, 6, t] = u12 + u22
                V[c, 7, t] = u13 + u23
                V[c, 8, t] = u20 - u10
                V[c, 9, t] = u21 - u11
                V[c, 10, t] = u22 - u12
                V[c, 11, t] = u23 - u13
                V[c, 12, t] = u10 - u30
                V[c, 13, t] = u11 - u31
                V[c, 14, t] = u12 - u32
                V[c, 15, t] = u13 - u33


@jit
def output_transform(M, r0, r1, tiles_h, out):
    """out[n, k, 2ty:2ty+2, 2tx:2tx+2] = A^T M[k, :, t] A (as 4x4) for every tile t of the
    tile rows r0..r1-1, M (K, 16, tiles); the parts of the last tiles outside out (N, K,
    out_h, out_w) (odd sizes) are dropped. Returns how many of the values written are inf or
    NaN (see scratchnet/ops/conv.py: the transforms add infinities of both signs where the
    direct sum would not)."""
    K, out_h, out_w = out.shape[1], out.shape[2], out.shape[3]
    tiles_w = M.shape[2] // (r1 - r0)
    rows = np.empty((2, 2 * tiles_w), M.dtype)
    bad = 0
    for r in range(r0, r1):
        n, ty = r // tiles_h, r % tiles_h
        y = 2 * ty
        for k in range(K):
            base = uint64((r - r0) * tiles_w)
            for tx in range(uint64(tiles_w)):
                t = base + tx
                # A^T down the columns: s[a][j] = (A^T M[:, j])[a]
                s00 = M[k, 0, t] + M[k, 4, t] + M[k, 8, t]
                s01 = M[k, 1, t] + M[k, 5, t] + M[k, 9, t]
                s02 = M[k, 2, t] + M[k, 6, t] + M[k, 10, t]
                s03 = M[k, 3, t] + M[k, 7, t] + M[k, 11, t]
                s10 = M[k, 4, t] - M[k, 8, t] - M[k, 12, t]
                s11 = M[k, 5, t] - M[k, 9, t] - M[k, 13, t]
                s12 = M[k, 6, t] - M[k, 10, t] - M[k, 14, t]
                s13 = M[k, 7, t] - M[k, 11, t] - M[k, 15, t]
                # then A along the rows
                x = 2 * tx
                rows[0, x] = s00 + s01 + s02
                rows[0, x + 1] = s01 - s02 - s03
                rows[1, x] = s10 + s11 + s12
                rows[1, x + 1] = s11 - s12 - s13
            for i in range(min(2, out_h - y)):
                for x in range(uint64(out_w)):
                    out[n, k, y + i, x] = rows[i, x]
                    bad += (rows[i, x] - rows[i, x]) != 0
    return bad


@jit
def grad_transform(gf, K, out_h, out_w, r0, r1, tiles_h, dM):
    """dM[k, xi, t] = (A dY A^T)[xi] for every 2x2 tile dY of the output gradient gf
    (N, K, out_h, out_w, flattened) in the tile rows r0..r1-1 (zero outside it): the
    gradient of M, given the gradient of the output; dM is (K, 16, tiles)."""
    tiles_w = dM.shape[2] // (r1 - r0)
    width = 2 * tiles_w
    rows = np.empty((2, width), gf.dtype)
    for r in range(r0, r1):
        n, ty = r // tiles_h, r % tiles_h
        base = uint64((r - r0) * tiles_w)
        for k in range(K):
            _tile_rows(gf, (n * K + k) * out_h * out_w, out_h, out_w, 2 * ty, 0, 2, rows,
                       width)
            for tx in range(uint64(tiles_w)):
                x = 2 * tx
                g00, g01, g10, g11 = rows[0, x], rows[0, x + 1], rows[1, x], rows[1, x + 1]
                # A along each row: the rows of A are (1, 0), (1, 1), (1, -1), (0, -1)
                h00, h01, h02, h03 = g00, g00 + g01, g00 - g01, -g01
                h10, h11, h12, h13 = g10, g10 + g11, g10 - g11, -g11
                # then down the columns
                t = base + tx
                dM[k, 0, t] = h00
                dM[k, 1, t] = h01
                dM[k, 2, t] = h02
                dM[k, 3, t] = h03
                dM[k, 4, t] = h00 + h10
                dM[k, 5, t] = h01 + h11
                dM[k, 6, t] = h02 + h12
                dM[k, 7, t] = h03 + h13
                dM[k, 8, t] = h00 - h10
                dM[k, 9, t] = h01 - h11
                dM[k, 10, t] = h02 - h12
                dM[k, 11, t] = h03 - h13
                dM[k, 12, t] = -h10
                dM[k, 13, t] = -h11
                dM[k, 14, t] = -h12
                dM[k, 15, t] = -h13
