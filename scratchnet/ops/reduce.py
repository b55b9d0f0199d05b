"""Reductions over an axis, a tuple of axes, or everything (axis=None).

The backward of a reduction broadcasts the gradient back over the reduced axes; with
keepdims=False those axes must be put back first (`_expand_reduced`). max/min send the
gradient to the extreme elements, split evenly among ties (PyTorch's amax/amin rule).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, register
from ..shapes import normalize_axis  # noqa: F401  (ops.methods uses it from here)


def _expand_reduced(grad, in_shape, axes, keepdims):
    if axes is None:
        axes = tuple(range(len(in_shape)))
    if not keepdims:
        grad = np.expand_dims(grad, axes) if axes else grad
    return grad


def _count(shape, axes):
    if axes is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


@register("sum")
class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axis(axis, a.ndim, "sum")
        ctx.info = (a.shape, axes, keepdims)
        return np.asarray(a.sum(axis=axes, keepdims=keepdims), dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad):
        shape, axes, keepdims = ctx.info
        return np.broadcast_to(_expand_reduced(grad, shape, axes, keepdims), shape).copy()


@register("mean")
class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        if a.dtype.kind not in "fc":
            raise TypeError(f"mean: needs a floating-point tensor, got {a.dtype}; "
                            "call .float() first")
        axes = normalize_axis(axis, a.ndim, "mean")
        ctx.info = (a.shape, axes, keepdims)
        return np.asarray(a.mean(axis=axes, keepdims=keepdims), dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad):
        shape, axes, keepdims = ctx.info
        n = _count(shape, axes)
        g = _expand_reduced(grad, shape, axes, keepdims) / grad.dtype.type(max(n, 1))
        return np.broadcast_to(g, shape).copy()


class _Extreme(Function):
    reducer = None

    @classmethod
    def forward(cls, ctx, a, axis=None, keepdims=False):
        axes = normalize_axis(axis, a.ndim, cls.op_name)
        if a.size == 0:
            raise ValueError(f"{cls.op_name}: the tensor is empty; there is no "
                             f"{cls.op_name}imum of no elements")
        out = np.asarray(cls.reducer(a, axis=axes, keepdims=keepdims))
        ctx.save_for_backward(a, out)
        ctx.info = (axes, keepdims)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_arrays
        axes, keepdims = ctx.info
        out_k = _expand_reduced(out, a.shape, axes, keepdims)
        grad_k = _expand_reduced(grad, a.shape, axes, keepdims)
        mask = a == out_k
        ties = mask.sum(axis=axes, keepdims=True)
        return (mask * (grad_k / ties)).astype(a.dtype, copy=False)


@register("max")
class Max(_Extreme):
    reducer = staticmethod(np.max)


@register("min")
class Min(_Extreme):
    reducer = staticmethod(np.min)


@register("var")
class Var(Function):
    """Variance with Bessel's correction by default (correction=1), as torch.var."""

    @staticmethod
    def forward(ctx, a, axis=None, correction=1, keepdims=False):
        axes = normalize_axis(axis, a.ndim, "var")
        n = _count(a.shape, axes)
        mean = a.mean(axis=axes, keepdims=True)
        centered = a - mean
        denom = max(n - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (centered * centered).sum(axis=axes, keepdims=keepdims) / a.dtype.type(denom)
        ctx.save_for_backward(centered)
        ctx.info = (axes, keepdims, denom)
        return np.asarray(out, dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad):
        (centered,) = ctx.saved_arrays
        axes, keepdims, denom = ctx.info
        g = _expand_reduced(grad, centered.shape, axes, keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g * centered * centered.dtype.type(2.0 / denom if denom else np.inf)
                    ).astype(centered.dtype, copy=False)


@register("logsumexp")
class LogSumExp(Function):
    """log(sum(exp(a))) computed stably by factoring out the maximum."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axis(axis, a.ndim, "logsumexp")
        m = np.max(a, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        s = np.log(np.exp(a - m).sum(axis=axes, keepdims=True)) + m
        ctx.save_for_backward(a, s)
        ctx.info = (axes, keepdims)
        out = s if keepdims else np.squeeze(s, axis=axes if axes is not None else None)
        return np.asarray(out, dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad):
        a, s = ctx.saved_arrays
        axes, keepdims = ctx.info
        g = _expand_reduced(grad, a.shape, axes, keepdims)
        return (g * np.exp(a - s)).astype(a.dtype, copy=False)


class _ArgExtreme(Function):
    finder = None

    @classmethod
    def forward(cls, ctx, a, axis=None, keepdims=False):
        if a.size == 0:
            raise ValueError(f"{cls.op_name}: the tensor is empty")
        if axis is None:
            out = np.asarray(cls.finder(a.reshape(-1)))
            return out.reshape((1,) * a.ndim) if keepdims else out
        (ax,) = normalize_axis(axis, a.ndim, cls.op_name)
        out = cls.finder(a, axis=ax)
        return np.expand_dims(out, ax) if keepdims else out


@register("argmax", differentiable=False)
class ArgMax(_ArgExtreme):
    finder = staticmethod(np.argmax)


@register("argmin", differentiable=False)
class ArgMin(_ArgExtreme):
    finder = staticmethod(np.argmin)
