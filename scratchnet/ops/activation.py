"""softmax and log_softmax along one axis, both shifted by the maximum so that logits of any
size stay finite (log_softmax of 1e4 is fine; exp(1e4) is not)."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, register
from .reduce import normalize_axis


def _shifted(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return a - np.where(np.isfinite(m), m, 0)


@register("softmax")
class Softmax(Function):
    @staticmethod
    def forward(ctx, a, axis=-1):
        (axis,) = normalize_axis(axis, a.ndim, "softmax")
        e = np.exp(_shifted(a, axis))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_arrays
        return y * (grad - (grad * y).sum(axis=ctx.axis, keepdims=True))


@register("log_softmax")
class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, axis=-1):
        (axis,) = normalize_axis(axis, a.ndim, "log_softmax")
        z = _shifted(a, axis)
        out = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_arrays
        return grad - np.exp(y) * grad.sum(axis=ctx.axis, keepdims=True)


@register("relu6")
class Relu6(Function):
    """min(max(x, 0), 6). Gradient 1 strictly inside (0, 6) and 0 at both kinks, as torch's
    hardtanh(x, 0, 6) has it."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.clip(a, 0, 6)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        return grad * ((a > 0) & (a < 6))


def relu6(input, inplace=False):
    """F.relu6: (*) -> (*). `inplace` is accepted for torch code; the result is always a new
    tensor."""
    from .methods import as_tensor

    x = as_tensor(input)
    if x.dtype.kind != "f":
        raise TypeError(f"relu6: the input must be floating point, got {x.dtype}")
    return Relu6.apply(x)
