"""Gradient clipping, as torch.nn.utils: call between backward() and optimizer.step().

Exploding gradients (a deep or recurrent net, a bad batch, a too-large lr) make one step throw
the parameters far away. Clipping bounds the step: `clip_grad_norm_` rescales all gradients
together so that their joint norm is at most `max_norm` (the direction is kept);
`clip_grad_value_` clamps each element on its own (the direction changes).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import Tensor
from ..dtypes import get_default_dtype


def _grads(parameters, who):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for p in parameters:
        if not isinstance(p, Tensor):
            raise TypeError(f"{who}: expected Tensors (parameters), got a {type(p).__name__}")
        if p.grad is not None:
            grads.append(p.grad.data)
    return grads


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients of `parameters` in place so that their total norm is at most
    `max_norm`, and return the total norm from before the clipping.

    The total norm treats all gradients as one long vector,

        total = (sum over every element x of every grad |x|^p)^(1/p)   (p = norm_type)
        total = max |x|                                                 (p = inf)

    computed as torch does, as the p-norm of the per-tensor p-norms. Every gradient is then
    multiplied by min(1, max_norm / (total + 1e-6)); the 1e-6 keeps a zero gradient finite.
    Parameters whose grad is None are skipped.

    Args:
        parameters: a Tensor or an iterable of Tensors (e.g. model.parameters()).
        max_norm: the largest total norm allowed.
        norm_type: p > 0, or float('inf') for the largest absolute element.
        error_if_nonfinite: raise if the total norm is nan or inf instead of scaling by it.

    Returns:
        A 0-d Tensor holding the total norm, in the gradients' dtype.
    """
    norm_type = float(norm_type)
    if not (norm_type > 0):
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    grads = _grads(parameters, "clip_grad_norm_")
    if not grads:
        return Tensor(np.zeros((), get_default_dtype()))
    dtype = np.result_type(*grads)
    if norm_type == math.inf:
        norms = np.array([np.max(np.abs(g)) if g.size else 0 for g in grads], dtype)
        total = norms.max()
    else:
        norms = np.array([_p_norm(g, norm_type) for g in grads], dtype)
        total = _p_norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {total}, so they cannot be clipped; set "
                           f"error_if_nonfinite=False to scale by it anyway")
    clip_coef = min(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g *= clip_coef
    return Tensor(np.asarray(total, dtype))


def _p_norm(x, p):
    x = np.abs(x.ravel())
    if p == 2.0:
        return np.sqrt(np.dot(x, x))
    if p == 1.0:
        return x.sum()
    return (x ** p).sum() ** (1.0 / p)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element of `parameters` into [-clip_value, clip_value], in
    place. Parameters whose grad is None are skipped.

    Args:
        parameters: a Tensor or an iterable of Tensors (e.g. model.parameters()).
        clip_value: the largest absolute value a gradient element may keep (>= 0).
    """
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters, "clip_grad_value_"):
        np.clip(g, -clip_value, clip_value, out=g)
