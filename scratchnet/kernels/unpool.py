"""Max unpooling kernels: put each value back where max pooling found it, and the gather
that is its backward.

Planes are flattened: a value at position i of plane p goes to offset indices[p, i] of an
output plane of `out_size` = H_out * W_out pixels. Both kernels only move memory, so they are
built serially (`jit`, where prange is plain range): threads made them slower on two shared
cores (benchmarks/bench_pool.py builds both and prints the comparison).
"""
from __future__ import annotations

import numpy as np

from ._jit import jit, prange


@jit
def max_unpool2d_forward(x, indices, out_size):
    """Scatter values into zeroed planes.

    x, indices: (P, L) -> out: (P, out_size), bad: (P,) int64.

    An index outside [0, out_size) is not written; its position in the plane is reported in
    bad[p] (-1 when the plane is clean) and the plane is abandoned, so the caller can name it.
    This check is the one the op layer cannot make cheaper itself: it rides along the write.
    Repeated indices: the last value in row-major order wins.
    """
    P, L = x.shape
    out = np.zeros((P, out_size), dtype=x.dtype)
    bad = np.full(P, -1, dtype=np.int64)
    for p in prange(P):
        for i in range(L):
            j = indices[p, i]
            if j < 0 or j >= out_size:
                bad[p] = i
                break
            out[p, j] = x[p, i]
    return out, bad


@jit
def max_unpool2d_backward(grad_out, indices):
    """Gather: grad_in[p, i] = grad_out[p, indices[p, i]].

    grad_out: (P, out_size), indices: (P, L) -> grad_in: (P, L).
    """
    P, L = indices.shape
    grad_in = np.empty((P, L), dtype=grad_out.dtype)
    for p in prange(P):
        for i in range(L):
            grad_in[p, i] = grad_out[p, indices[p, i]]
    return grad_in
