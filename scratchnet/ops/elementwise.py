"""Elementwise ops. Binary ops broadcast like NumPy; their backward sums the gradient back
to each input's shape (`unbroadcast`), which is where hand-written backwards most often go
wrong. Derivatives at kinks follow PyTorch: relu'(0) = 0, abs'(0) = 0, leaky_relu'(0) = slope,
clamp passes the gradient on the closed interval [min, max], maximum/minimum split it in half
on ties.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, register


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def broadcast_shapes(op: str, a: np.ndarray, b: np.ndarray):
    """The shape of `a <op> b`, or a ValueError naming `op` and both shapes."""
    # the common cases first: equal shapes, or a scalar operand (x * 0.5)
    if a.shape == b.shape or b.ndim == 0:
        return a.shape
    if a.ndim == 0:
        return b.shape
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast: aligned from "
                         f"the right, each pair of sizes must be equal or contain a 1") from None


@register("add")
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        # shapes are kept only when they differ: the common same-shape case passes the
        # gradient through untouched
        if a.shape != b.shape:
            broadcast_shapes("add", a, b)
            ctx.shapes = (a.shape, b.shape)
        return a + b

    @staticmethod
    def backward(ctx, grad):
        shapes = getattr(ctx, "shapes", None)
        if shapes is None:
            return grad, grad
        sa, sb = shapes
        return unbroadcast(grad, sa), unbroadcast(grad, sb)


@register("sub")
class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        # shapes are kept only when they differ: the common same-shape case passes the
        # gradient through untouched
        if a.shape != b.shape:
            broadcast_shapes("sub", a, b)
            ctx.shapes = (a.shape, b.shape)
        return a - b

    @staticmethod
    def backward(ctx, grad):
        gb = -grad if ctx.needs_input_grad[1] else None
        shapes = getattr(ctx, "shapes", None)
        if shapes is None:
            return grad, gb
        return unbroadcast(grad, shapes[0]), None if gb is None else unbroadcast(gb, shapes[1])


@register("mul")
class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        broadcast_shapes("mul", a, b)
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        ga = unbroadcast(grad * b, a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(grad * a, b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


@register("div")
class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        broadcast_shapes("div", a, b)
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        ga = unbroadcast(grad / b, a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-grad * a / (b * b), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


@register("neg")
class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


@register("pow")
class Pow(Function):
    """a ** b. The gradient w.r.t. the base is 0 where the exponent is 0, and w.r.t. the
    exponent it is 0 where the base is 0 and the exponent non-negative (PyTorch's masks)."""

    @staticmethod
    def forward(ctx, a, b):
        broadcast_shapes("pow", a, b)
        out = np.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_arrays
        ga = gb = None
        if ctx.needs_input_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                d = np.where(b == 0, 0.0, b * np.power(a, b - 1))
            ga = unbroadcast((grad * d).astype(a.dtype, copy=False), a.shape)
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                d = np.where((a == 0) & (b >= 0), 0.0, out * np.log(a))
            gb = unbroadcast((grad * d).astype(b.dtype, copy=False), b.shape)
        return ga, gb


@register("exp")
class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        return grad * out


@register("log")
class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        return grad / a


@register("sqrt")
class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        with np.errstate(divide="ignore"):
            return grad / (2 * out)


@register("abs")
class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        return grad * np.sign(a)


@register("tanh")
class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        # grad * (1 - out^2), with one temporary instead of three (written into an array
        # of out's shape, so that a 0-d out does not turn into a NumPy scalar)
        d = np.multiply(out, out, out=np.empty_like(out))
        np.subtract(1, d, out=d)
        d *= grad
        return d


@register("sigmoid")
class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        # 1/(1+exp(-a)) overflows for large negative a; this form never does
        out = 0.5 * (1 + np.tanh(0.5 * a))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        return grad * out * (1 - out)


@register("relu")
class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_arrays
        return grad * (out > 0)


@register("leaky_relu")
class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, a, negative_slope=0.01):
        ctx.save_for_backward(a)
        ctx.slope = negative_slope
        return np.where(a > 0, a, a * a.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        return np.where(a > 0, grad, grad * grad.dtype.type(ctx.slope))


@register("clamp")
class Clamp(Function):
    @staticmethod
    def forward(ctx, a, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp: give at least one of min and max")
        ctx.save_for_backward(a)
        ctx.bounds = (min, max)
        out = a
        if min is not None:
            out = np.maximum(out, a.dtype.type(min))
        if max is not None:
            out = np.minimum(out, a.dtype.type(max))
        return out if out is not a else a.copy()

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        lo, hi = ctx.bounds
        mask = np.ones(a.shape, dtype=bool)
        if lo is not None:
            mask &= a >= lo
        if hi is not None:
            mask &= a <= hi
        return grad * mask


def _split_on_ties(grad, a, b, a_wins):
    ties = a == b
    ga = np.where(ties, grad * 0.5, np.where(a_wins, grad, 0)).astype(grad.dtype, copy=False)
    gb = np.where(ties, grad * 0.5, np.where(a_wins, 0, grad)).astype(grad.dtype, copy=False)
    return unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)


@register("maximum")
class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        broadcast_shapes("maximum", a, b)
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        return _split_on_ties(grad, a, b, a > b)


@register("minimum")
class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        broadcast_shapes("minimum", a, b)
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        return _split_on_ties(grad, a, b, a < b)


@register("where")
class Where(Function):
    """where(condition, a, b): a where condition holds, else b. No gradient to condition."""

    @staticmethod
    def forward(ctx, cond, a, b):
        cond = np.asarray(cond)
        if cond.dtype != np.bool_:
            raise TypeError(f"where: condition must be a bool tensor, got {cond.dtype}")
        try:
            np.broadcast_shapes(cond.shape, a.shape, b.shape)
        except ValueError:
            raise ValueError(f"where: condition {cond.shape}, a {a.shape} and b {b.shape} do "
                             "not broadcast together") from None
        ctx.save_for_backward(cond)
        ctx.shapes = (a.shape, b.shape)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        (cond,) = ctx.saved_arrays
        sa, sb = ctx.shapes
        zero = grad.dtype.type(0)
        return (None, unbroadcast(np.where(cond, grad, zero), sa),
                unbroadcast(np.where(cond, zero, grad), sb))


def _compare(name, ufunc):
    @register(name, differentiable=False)
    class Compare(Function):
        @staticmethod
        def forward(ctx, a, b):
            broadcast_shapes(name, a, b)
            return ufunc(a, b)

    Compare.__name__ = Compare.__qualname__ = name.capitalize()
    return Compare


Eq = _compare("eq", np.equal)
Ne = _compare("ne", np.not_equal)
Lt = _compare("lt", np.less)
Le = _compare("le", np.less_equal)
Gt = _compare("gt", np.greater)
Ge = _compare("ge", np.greater_equal)
