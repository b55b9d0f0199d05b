"""Matrix product with NumPy's matmul rules: 1-D operands are promoted (and the added axis
removed again), leading dimensions broadcast as batch dimensions. Large products of matrices
are cut by rows between threads of our own, OpenBLAS on one thread (scratchnet/_threads.py)."""
from __future__ import annotations

import numpy as np

from .. import _threads
from ..autograd.function import Function, register
from .elementwise import unbroadcast


def _product(a, b):
    """a @ b. A product of matrices big enough to cut (_threads.splits) has its rows cut
    between threads of our own, OpenBLAS held to one thread (_threads.own_threads); any other
    is NumPy's as it is: holding OpenBLAS costs about a microsecond, where a whole small op
    takes about 15 (benchmarks/bench_engine.py)."""
    if a.ndim >= 2 and b.ndim >= 2:
        # the multiply-adds, batch x M x R x L: exact unless both batches are broadcast
        work = max(a.size * b.shape[-1], b.size * a.shape[-2])
        if work >= 2 * _threads.MIN_WORK and _threads.splits(a.shape[-2], work):
            return _threads.own_threads(lambda: _threads.matmul_by_rows(a, b))()
    return np.matmul(a, b)


@register("matmul")
class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least one dimension, got shapes "
                             f"{a.shape} @ {b.shape}; use * for a scalar")
        k_a = a.shape[-1]
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            raise ValueError(f"matmul: {a.shape} @ {b.shape}: inner sizes {k_a} and {k_b} "
                             "differ")
        if (a.ndim > 2 or b.ndim > 2) and a.shape[:-2] != b.shape[:-2]:
            try:
                np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            except ValueError:
                raise ValueError(f"matmul: {a.shape} @ {b.shape}: batch dimensions "
                                 f"{a.shape[:-2]} and {b.shape[:-2]} do not broadcast"
                                 ) from None
        ctx.save_for_backward(a, b)
        return _product(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        if a.ndim == 2 and b.ndim == 2:
            # plain matrices: no promotion, no batch to sum over
            return (_product(grad, b.T) if ctx.needs_input_grad[0] else None,
                    _product(a.T, grad) if ctx.needs_input_grad[1] else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1 and b.ndim == 1:
            g2 = grad.reshape(1, 1)
        elif a.ndim == 1:
            g2 = np.expand_dims(grad, -2)
        elif b.ndim == 1:
            g2 = np.expand_dims(grad, -1)
        else:
            g2 = grad
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = _product(g2, np.swapaxes(b2, -1, -2))
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            gb = _product(np.swapaxes(a2, -1, -2), g2)
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb
