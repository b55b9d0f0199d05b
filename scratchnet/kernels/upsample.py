"""Upsampling kernels: nearest neighbour, bilinear and bicubic, forward and backward.

Both methods are separable: every output row i reads input rows chosen by a 1-D table, every
output column j reads input columns chosen by another, and a plane is resampled by the two
tables together. So the work splits in two:

- `nearest_table` / `linear_table` (plain NumPy, one spatial dimension): which input pixels
  each output pixel reads, and with what weights. PyTorch's index rules live here.
- the numba kernels: apply the tables to a stack of P = N*C planes `(P, H, W)`, one plane
  per thread (`prange`). Upsampling does one or two multiply-adds per byte, so planes are the
  only parallelism worth its start-up cost (measured in benchmarks/bench_upsample.py).

Index rules, for input size n, output size m and a position dst in [0, m). `scale` is
1/scale_factor when the caller gave a scale factor (and did not ask to recompute it), else
n/m; PyTorch does the same, so scale_factor=1.7 on n=5 (m=8) uses 1/1.7, not 5/8, and picks
different pixels than size=8 does.

    nearest:                     src = min(floor(dst * scale), n - 1)
    linear, align_corners=False: src = max((dst + 0.5) * scale - 0.5, 0)      (pixel centres)
    linear, align_corners=True:  src = dst * (n - 1)/(m - 1)                  (corner pixels
                                                                              meet; 0 if m=1)

A linear position src reads pixels i0 = min(floor(src), n - 1) and i1 = min(i0 + 1, n - 1)
with weights 1 - t and t, t = src - i0 (clamped to [0, 1]). When m == n, linear copies
(PyTorch's special case, even for a scale factor such as 1.1 on n=5).

    cubic: src as linear but never clamped at 0 (PyTorch's `cubic=True`), i = floor(src),
           t = src - i; it reads the four pixels i-1, i, i+1, i+2, each index clamped to
           [0, n - 1] (the border pixel repeats), with Keys' weights for a = -0.75:
           W(d) = (a+2)|d|^3 - (a+3)|d|^2 + 1          for |d| <= 1
           W(d) = a|d|^3 - 5a|d|^2 + 8a|d| - 4a        for 1 < |d| < 2
           at the distances d = t+1, t, 1-t, 2-t. No same-size copy: a scale factor of 1.1
           on n=5 blends pixels.

The callers validate every argument; these kernels trust their input.
"""
from __future__ import annotations

import numpy as np

from ._jit import jit_parallel, prange


def nearest_table(n, m, scale_factor, dtype):
    """Source index of every output position: (m,) int64 in [0, n).

    PyTorch computes dst * scale in the tensor's dtype and then floors it as a float32
    (`floorf`). So in float64, 55 * (14/110) = 6.999999999999999 rounds to 7.0f first and
    picks pixel 7; in float32, 23 * (14/46) is 6.9999995f and picks pixel 6 where float64
    picks 7. The table is computed the same way so that both dtypes pick PyTorch's pixels.
    """
    dtype = np.dtype(dtype)
    if scale_factor is not None:
        scale = dtype.type(1.0 / scale_factor)
    else:
        scale = dtype.type(n) / dtype.type(m)
    src = (np.arange(m, dtype=dtype) * scale).astype(np.float32)
    return np.minimum(np.floor(src).astype(np.int64), n - 1)


def linear_table(n, m, scale_factor, align_corners, dtype):
    """The two taps and weights of every output position, all (m,):
    i0, i1 int64 and w0, w1 in `dtype` (w0 + w1 = 1), in the tensor's dtype as PyTorch."""
    dtype = np.dtype(dtype)
    if m == n:
        idx = np.arange(m, dtype=np.int64)
        return idx, idx.copy(), np.ones(m, dtype), np.zeros(m, dtype)
    one, half = dtype.type(1), dtype.type(0.5)
    dst = np.arange(m, dtype=dtype)
    if align_corners:
        scale = dtype.type(n - 1) / dtype.type(m - 1) if m > 1 else dtype.type(0)
        src = dst * scale
    else:
        scale = dtype.type(1.0 / scale_factor) if scale_factor is not None \
            else dtype.type(n) / dtype.type(m)
        src = np.maximum(scale * (dst + half) - half, dtype.type(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    w1 = np.clip(src - i0.astype(dtype), 0, one).astype(dtype)
    i1 = np.where(i0 < n - 1, i0 + 1, i0)
    return i0, i1, (one - w1).astype(dtype), w1


def cubic_table(n, m, scale_factor, align_corners, dtype):
    """The four taps and weights of every output position: idx (m, 4) int64 in [0, n) and
    w (m, 4) in `dtype`, each row summing to 1, computed in the tensor's dtype as PyTorch."""
    dtype = np.dtype(dtype)
    a, one, half = dtype.type(-0.75), dtype.type(1), dtype.type(0.5)
    dst = np.arange(m, dtype=dtype)
    if align_corners:
        src = dst * (dtype.type(n - 1) / dtype.type(m - 1) if m > 1 else dtype.type(0))
    else:
        scale = dtype.type(1.0 / scale_factor) if scale_factor is not None \
            else dtype.type(n) / dtype.type(m)
        src = scale * (dst + half) - half
    i = np.floor(src)
    t = (src - i).astype(dtype)

    def near(d):     # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + one

    def far(d):      # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    w = np.stack([far(t + one), near(t), near(one - t), far(2 * one - t)], axis=1)
    idx = np.clip(i.astype(np.int64)[:, None] + np.arange(-1, 3)[None, :], 0, n - 1)
    return idx, w.astype(dtype)


@jit_parallel
def nearest_forward(x, rows, cols):
    """x: (P, H, W), rows: (H',) int64, cols: (W',) int64 -> out: (P, H', W'), x's dtype.

    out[p, i, j] = x[p, rows[i], cols[j]]
    """
    P = x.shape[0]
    out = np.empty((P, rows.size, cols.size), dtype=x.dtype)
    for p in prange(P):
        for i in range(rows.size):
            if i > 0 and rows[i] == rows[i - 1]:
                # upsampling repeats whole rows: a contiguous copy beats a second gather
                out[p, i, :] = out[p, i - 1, :]
            else:
                r = rows[i]
                for j in range(cols.size):
                    out[p, i, j] = x[p, r, cols[j]]
    return out


@jit_parallel
def nearest_backward(grad_out, rows, cols, H, W):
    """grad_out: (P, H', W') -> grad_x: (P, H, W), grad_out's dtype.

    Every input pixel collects the gradients of all the outputs that copied it (a block of
    them when upsampling, none for pixels skipped when downsampling).
    """
    P = grad_out.shape[0]
    grad_x = np.zeros((P, H, W), dtype=grad_out.dtype)
    for p in prange(P):
        for i in range(rows.size):
            r = rows[i]
            for j in range(cols.size):
                grad_x[p, r, cols[j]] += grad_out[p, i, j]
    return grad_x


@jit_parallel
def bilinear_forward(x, r0, r1, rw0, rw1, c0, c1, cw0, cw1):
    """x: (P, H, W); row taps r0, r1 and weights rw0, rw1: (H',); column taps and weights
    c0, c1, cw0, cw1: (W',) -> out: (P, H', W'), x's dtype.

        across[h, j]  = cw0[j] * x[p, h, c0[j]] + cw1[j] * x[p, h, c1[j]]     (H, W')
        out[p, i, j] = rw0[i] * across[r0[i], j] + rw1[i] * across[r1[i], j]

    Separable, in two passes: each input row is resampled across once, although two or more
    output rows blend it. Taps and weights follow PyTorch's formulas in the tensor's dtype;
    float32 outputs agree with PyTorch's to a few units in the last place, not bit for bit
    (its loops order the sums differently).
    """
    P, H = x.shape[0], x.shape[1]
    out = np.empty((P, r0.size, c0.size), dtype=x.dtype)
    for p in prange(P):
        across = np.empty((H, c0.size), dtype=x.dtype)
        for h in range(H):
            for j in range(c0.size):
                across[h, j] = cw0[j] * x[p, h, c0[j]] + cw1[j] * x[p, h, c1[j]]
        for i in range(r0.size):
            a, b = r0[i], r1[i]
            wa, wb = rw0[i], rw1[i]
            for j in range(c0.size):
                out[p, i, j] = wa * across[a, j] + wb * across[b, j]
    return out


@jit_parallel
def bilinear_backward(grad_out, r0, r1, rw0, rw1, c0, c1, cw0, cw1, H, W):
    """grad_out: (P, H', W') -> grad_x: (P, H, W), grad_out's dtype.

    The forward's two passes transposed, in reverse order: each output row's gradient goes
    to its two input rows (scaled by rw0, rw1), then each of those rows' gradients goes to
    its two columns (scaled by cw0, cw1); taps shared by neighbours add up.
    """
    P = grad_out.shape[0]
    grad_x = np.zeros((P, H, W), dtype=grad_out.dtype)
    for p in prange(P):
        across = np.zeros((H, c0.size), dtype=grad_out.dtype)
        for i in range(r0.size):
            a, b = r0[i], r1[i]
            wa, wb = rw0[i], rw1[i]
            for j in range(c0.size):
                g = grad_out[p, i, j]
                across[a, j] += wa * g
                across[b, j] += wb * g
        for h in range(H):
            for j in range(c0.size):
                g = across[h, j]
                grad_x[p, h, c0[j]] += cw0[j] * g
                grad_x[p, h, c1[j]] += cw1[j] * g
    return grad_x


@jit_parallel
def bicubic_forward(x, ridx, rw, cidx, cw):
    """x: (P, H, W); row taps ridx and weights rw: (H', 4); column taps cidx and weights cw:
    (W', 4) -> out: (P, H', W'), x's dtype.

        across[h, j]  = sum_k cw[j, k] * x[p, h, cidx[j, k]]                  (H, W')
        out[p, i, j] = sum_k rw[i, k] * across[ridx[i, k], j]

    Separable in two passes, as bilinear_forward, with four taps instead of two.
    """
    P, H = x.shape[0], x.shape[1]
    oh, ow = ridx.shape[0], cidx.shape[0]
    out = np.empty((P, oh, ow), dtype=x.dtype)
    for p in prange(P):
        across = np.empty((H, ow), dtype=x.dtype)
        for h in range(H):
            for j in range(ow):
                across[h, j] = (cw[j, 0] * x[p, h, cidx[j, 0]] + cw[j, 1] * x[p, h, cidx[j, 1]]
                                + cw[j, 2] * x[p, h, cidx[j, 2]]
                                + cw[j, 3] * x[p, h, cidx[j, 3]])
        for i in range(oh):
            r0, r1, r2, r3 = ridx[i, 0], ridx[i, 1], ridx[i, 2], ridx[i, 3]
            w0, w1, w2, w3 = rw[i, 0], rw[i, 1], rw[i, 2], rw[i, 3]
            for j in range(ow):
                out[p, i, j] = (w0 * across[r0, j] + w1 * across[r1, j]
                                + w2 * across[r2, j] + w3 * across[r3, j])
    return out


@jit_parallel
def bicubic_backward(grad_out, ridx, rw, cidx, cw, H, W):
    """grad_out: (P, H', W') -> grad_x: (P, H, W), grad_out's dtype.

    The forward's passes transposed in reverse order: each output row's gradient goes to its
    four input rows, then each row's gradient to its four columns. A clamped tap at the
    border appears several times in a row of the table, and its weights add up there.
    """
    P = grad_out.shape[0]
    oh, ow = ridx.shape[0], cidx.shape[0]
    grad_x = np.zeros((P, H, W), dtype=grad_out.dtype)
    for p in prange(P):
        across = np.zeros((H, ow), dtype=grad_out.dtype)
        for i in range(oh):
            for k in range(4):
                r, wk = ridx[i, k], rw[i, k]
                for j in range(ow):
                    across[r, j] += wk * grad_out[p, i, j]
        for h in range(H):
            for j in range(ow):
                g = across[h, j]
                for k in range(4):
                    grad_x[p, h, cidx[j, k]] += cw[j, k] * g
    return grad_x
