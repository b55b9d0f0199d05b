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


@register("prelu")
class PRelu(Function):
    """Parametric ReLU (He et al. 2015): x where x > 0, a * x elsewhere, with a learned slope.

    x: (N, C, *); weight: (C,) one slope per channel, or (1,) shared by all -> the shape of x.
    The channel dimension is 1; an input of 0 or 1 dimensions has one channel, as in PyTorch.

    Backward: dx = g where x > 0 else a * g (the slope at 0 is a, as PyTorch);
    da = sum of g * x over every position where x <= 0, per channel (or over all, for (1,)).
    """

    @staticmethod
    def forward(ctx, x, weight):
        a = _slope_view(weight, x.ndim)
        ctx.save_for_backward(x, a)
        ctx.wshape = weight.shape
        return np.where(x > 0, x, a * x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        x, a = ctx.saved_arrays
        gx = gw = None
        if ctx.needs_input_grad[0]:
            gx = np.where(x > 0, grad, grad * a)
        if ctx.needs_input_grad[1]:
            neg = np.where(x > 0, 0, grad * x)
            if ctx.wshape[0] == 1:
                gw = np.array([neg.sum()], dtype=grad.dtype)
            else:
                axes = tuple(i for i in range(neg.ndim) if i != 1)
                gw = neg.sum(axis=axes)
        return gx, gw


def _slope_view(weight, ndim):
    """The (C,) or (1,) slopes shaped to broadcast over an ndim-D input, channels at
    dimension 1."""
    if weight.shape[0] == 1:
        return weight.reshape(())
    return weight.reshape((1, -1) + (1,) * (ndim - 2))


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
