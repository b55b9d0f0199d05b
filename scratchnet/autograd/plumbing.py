"""The two ops the Tensor class itself needs: Cast (`x.to(dtype)`, `x.double()`) and Clone
(`x.clone()`). They live with the engine so that autograd imports nothing from ops/."""
from __future__ import annotations

from .function import Function, register


@register("cast")
class Cast(Function):
    """Change of dtype; the gradient is cast back to the input's dtype."""

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.in_dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.in_dtype)


@register("clone")
class Clone(Function):
    """A copy that is part of the graph: the gradient passes through unchanged."""

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad
