"""Loss functions, with PyTorch's names, arguments and reductions.

Every loss computes a per-element (or per-sample) loss l and then reduces it:

    reduction='none' -> l as it is,   'sum' -> sum(l),   'mean' -> sum(l) / count

where count is the number of elements, except for cross_entropy / nll_loss with class
indices, whose mean divides by the total weight of the non-ignored targets (PyTorch's rule:
with class weights the mean is a weighted average, and ignored pixels do not count).

Each differentiable loss is one Function whose backward is written from the formula in its
docstring; the triplet loss is composed from `pairwise_distance`, clamp and mean.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function, register
from ..autograd.tensor import Tensor
from . import elementwise as E
from .elementwise import unbroadcast
from .methods import as_tensor, clamp, minimum

_REDUCTIONS = ("none", "mean", "sum")


def _shape_str(shape):
    return str(tuple(int(s) for s in shape))


def _data(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _reduction(op, reduction, size_average=None, reduce=None):
    """The reduction string, translating PyTorch's deprecated size_average / reduce."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def _reduce(loss, reduction, denom):
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            total = total / loss.dtype.type(denom)
    return np.asarray(total, dtype=loss.dtype)


def _unreduce(grad, shape, reduction, denom):
    """The gradient of the reduction: each element's share of the upstream gradient."""
    if reduction == "none":
        return grad
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            grad = grad / grad.dtype.type(denom)
    return np.broadcast_to(grad, shape)


def _float_input(op, input, name="input"):
    x = as_tensor(input)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: the {name} must be floating point, got {x.dtype}; call "
                        f".float() on it first")
    return x


def _float_like(op, value, x, name):
    """A float Tensor in x's dtype (so a float32 loss never turns float64)."""
    t = as_tensor(value)
    if t.dtype.kind not in "fiub":
        raise TypeError(f"{op}: {name} must be numeric, got {t.dtype}")
    if t.dtype != x.dtype:
        if t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be floating point like the input ({x.dtype}), "
                            f"got {t.dtype}; call .float() on it")
        t = t.to(x.dtype)
    return t


def _const_like(value, x, shape=None, op="", name=""):
    """A constant ndarray (class weights, pos_weight) in x's dtype."""
    if value is None:
        return None
    a = _data(value).astype(x.dtype, copy=False)
    if shape is not None and a.shape != shape:
        raise ValueError(f"{op}: {name} must have shape {_shape_str(shape)}, got "
                         f"{_shape_str(a.shape)}")
    return a


def _same_shape(op, x, y, what="target"):
    # PyTorch only warns and broadcasts; an (N, 1) output against an (N,) target then
    # silently trains on an N x N loss, so here it is an error
    if tuple(x.shape) != tuple(y.shape):
        raise ValueError(f"{op}: the {what} shape {_shape_str(y.shape)} differs from the input "
                         f"shape {_shape_str(x.shape)}; they must match element for element "
                         f"(reshape one of them, e.g. output.squeeze(1) or target.view_as("
                         f"output))")


def _check_class_targets(op, x, target, ignore_index=None):
    """Validate integer class targets for logits/log-probs x of shape (N, C, *) or (C,)."""
    if x.ndim == 0:
        raise ValueError(f"{op}: the input must have a class dimension, (N, C) or (C,), got a "
                         "scalar")
    c = x.shape[1] if x.ndim >= 2 else x.shape[0]
    expected = (x.shape[0],) + tuple(x.shape[2:]) if x.ndim >= 2 else ()
    if tuple(target.shape) != expected:
        layout = "(N, d1, ...)" if x.ndim > 2 else ("(N,)" if x.ndim == 2 else "()")
        raise ValueError(f"{op}: expected a target of shape {layout} = {_shape_str(expected)} "
                         f"for an input of shape {_shape_str(x.shape)} (class scores on axis "
                         f"{1 if x.ndim >= 2 else 0}), got a target of shape "
                         f"{_shape_str(target.shape)}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: class-index targets must be integers (int64), got "
                        f"{target.dtype}; call .long() on them")
    t = target.data
    bad = (t < 0) | (t >= c)
    if ignore_index is not None:
        bad &= t != ignore_index
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        value = int(t[where])
        ignore = f" (or equal ignore_index={ignore_index})" if ignore_index is not None else ""
        hint = " Class indices start at 0: labels 1..C need a -1." if value == c else ""
        raise ValueError(f"{op}: target value {value} at index {where} is out of range: class "
                         f"indices must be in [0, {c - 1}] for an input with C={c} "
                         f"classes{ignore}.{hint}")
    return c


def _target_weights(target, weight, ignore_index, dtype):
    """(safe targets, per-target weight w[t] with 0 for ignored entries)."""
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    wt = weight[safe] if weight is not None else np.ones(target.shape, dtype)
    return safe, (wt * valid).astype(dtype, copy=False)


def _softmax_and_log(x, axis):
    """(softmax, log_softmax) along axis with one exp: shifted by the max so that any logits
    stay finite (an all -inf row keeps its shift at 0 rather than producing nan)."""
    m = x.max(axis=axis, keepdims=True)
    m[~np.isfinite(m)] = 0
    z = x - m
    e = np.exp(z)
    total = e.sum(axis=axis, keepdims=True)
    z -= np.log(total)
    e /= total
    return e, z


@register("cross_entropy")
class CrossEntropy(Function):
    """Softmax cross-entropy from raw scores (logits), fused for a stable, short backward.

    x (N, C, *) logits; target (N, *) class indices or (N, C, *) class probabilities.
    With p = softmax(x) over axis 1 and log p = log_softmax(x):

        index targets:  l_n = -(1 - eps) w_{t_n} log p_{n, t_n} - eps/C sum_c w_c log p_{n,c}
                        (0 where t_n == ignore_index), mean divides by sum_n w_{t_n}
        prob targets:   l_n = -sum_c w_c y'_{n,c} log p_{n,c},  y' = (1 - eps) y + eps/C,
                        mean divides by the number of samples N * prod(*)

    Both are l_n = -sum_c K_{n,c} log p_{n,c} for a coefficient K, so the backward is one line:
    dl/dlog p = -K, and through log_softmax dl/dx = p * sum_c K - K  (for one-hot K without
    weights: p - onehot, the famous "softmax minus target"). For index targets K is a one-hot
    "hard" part (1 - eps) w_t at the target plus a constant "soft" part eps/C w_c, and it is
    kept in that form instead of as an (N, C, *) array.
    """

    @staticmethod
    def forward(ctx, x, target, weight=None, ignore_index=-100, reduction="mean",
                label_smoothing=0.0):
        n_classes = x.shape[1]
        eps = label_smoothing
        wshape = (1, n_classes) + (1,) * (x.ndim - 2)
        w = weight.reshape(wshape) if weight is not None else None
        p, logp = _softmax_and_log(x, axis=1)
        if target.dtype.kind in "iu":
            safe, wt = _target_weights(target, weight, ignore_index, x.dtype)
            hard = (1 - eps) * wt                                    # (N, *)
            loss = -hard * np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
            soft = None
            if eps:
                valid = (target != ignore_index)[:, None]
                # a scalar of x's dtype: a Python float times the bool mask would be float64
                soft = x.dtype.type(eps / n_classes) * (w if w is not None else 1) * valid
                loss = loss - (soft * logp).sum(axis=1)
            denom = wt.sum()
            ctx.save_for_backward(p, safe, hard, soft)
        else:
            y = (1 - eps) * target + eps / n_classes
            coef = y * w if w is not None else y
            loss = -(coef * logp).sum(axis=1)
            denom = loss.size
            ctx.save_for_backward(p, coef, logp, w)
        ctx.info = (reduction, denom, loss.shape, target.dtype.kind in "iu", eps)
        return _reduce(loss.astype(x.dtype, copy=False), reduction, denom)

    @staticmethod
    def backward(ctx, grad):
        reduction, denom, shape, index_target, eps = ctx.info
        g = _unreduce(grad, shape, reduction, denom)[:, None]       # (N, 1, *)
        if index_target:
            p, safe, hard, soft = ctx.saved_arrays
            k_sum = hard[:, None]
            if soft is not None:
                # soft is (N, C, *) with class weights, (N, 1, *) without: C equal entries
                k_sum = k_sum + (soft.sum(axis=1, keepdims=True) if soft.shape[1] > 1
                                 else soft * p.shape[1])
            gx = p * (g * k_sum)
            idx = safe[:, None]
            at_target = np.take_along_axis(gx, idx, axis=1) - g * hard[:, None]
            np.put_along_axis(gx, idx, at_target, axis=1)
            if soft is not None:
                gx -= g * soft
            return gx, None
        p, coef, logp, w = ctx.saved_arrays
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = g * (p * coef.sum(axis=1, keepdims=True) - coef)
        if ctx.needs_input_grad[1]:
            gy = -(1 - eps) * g * logp * (w if w is not None else 1.0)
        return gx, gy


@register("nll_loss")
class NLLLoss(Function):
    """Negative log-likelihood of class indices: x (N, C, *) log-probabilities (the output of
    log_softmax), target (N, *) -> l_n = -w_{t_n} x_{n, t_n}; 0 where t_n == ignore_index;
    the mean divides by sum_n w_{t_n}. Backward: -w_{t_n} at the target class, 0 elsewhere."""

    @staticmethod
    def forward(ctx, x, target, weight=None, ignore_index=-100, reduction="mean"):
        safe, wt = _target_weights(target, weight, ignore_index, x.dtype)
        loss = -wt * np.take_along_axis(x, safe[:, None], axis=1)[:, 0]
        denom = wt.sum()
        ctx.save_for_backward(safe, wt)
        ctx.info = (reduction, denom, x.shape)
        return _reduce(loss, reduction, denom)

    @staticmethod
    def backward(ctx, grad):
        safe, wt = ctx.saved_arrays
        reduction, denom, x_shape = ctx.info
        g = _unreduce(grad, wt.shape, reduction, denom)
        gx = np.zeros(x_shape, dtype=grad.dtype)
        np.put_along_axis(gx, safe[:, None], (-wt * g)[:, None].astype(grad.dtype), axis=1)
        return gx, None


def _batched(x, target):
    """An unbatched (C,) input with a () target becomes a batch of one."""
    if x.ndim == 1:
        return x.reshape(1, x.shape[0]), target.reshape(1), True
    return x, target, False


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """F.cross_entropy: softmax + negative log-likelihood, from raw scores.

    input (N, C) or (C,) or (N, C, d1, ...) logits, e.g. (N, C, H, W) for segmentation;
    target (N,) / () / (N, d1, ...) class indices in [0, C-1] (entries equal to
    ignore_index are skipped), or class probabilities of the input's shape.
    weight (C,) rescales each class; label_smoothing eps mixes the target with the uniform
    distribution. Returns a scalar, or the per-sample losses (N, d1, ...) for 'none'.
    """
    op = "cross_entropy"
    reduction = _reduction(op, reduction, size_average, reduce)
    x = _float_input(op, input)
    t = as_tensor(target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if t.dtype.kind == "f":
        if x.ndim == 0 or tuple(t.shape) != tuple(x.shape):
            raise ValueError(f"{op}: a floating-point target holds class probabilities and must "
                             f"have the input's shape {_shape_str(x.shape)}, got "
                             f"{_shape_str(t.shape)} (for class indices use an integer target, "
                             f"e.g. target.long())")
        t = _float_like(op, t, x, "target")
        c = x.shape[1] if x.ndim >= 2 else x.shape[0]
    else:
        c = _check_class_targets(op, x, t, ignore_index)
    w = _const_like(weight, x, (c,), op, "weight (one value per class)")
    unbatched = x.ndim == 1
    if unbatched:
        x, t = x.reshape(1, c), (t.reshape(1, c) if t.dtype.kind == "f" else t.reshape(1))
    out = CrossEntropy.apply(x, t, weight=w, ignore_index=ignore_index, reduction=reduction,
                             label_smoothing=float(label_smoothing))
    return out.reshape(()) if unbatched and reduction == "none" else out


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """F.nll_loss: input (N, C, *) or (C,) log-probabilities (log_softmax's output), target
    (N, *) or () class indices. cross_entropy(x, t) == nll_loss(log_softmax(x, 1), t)."""
    op = "nll_loss"
    reduction = _reduction(op, reduction, size_average, reduce)
    x = _float_input(op, input)
    t = as_tensor(target)
    c = _check_class_targets(op, x, t, ignore_index)
    w = _const_like(weight, x, (c,), op, "weight (one value per class)")
    x2, t2, unbatched = _batched(x, t)
    out = NLLLoss.apply(x2, t2, weight=w, ignore_index=ignore_index, reduction=reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out


@register("binary_cross_entropy")
class BinaryCrossEntropy(Function):
    """x probabilities in [0, 1], y targets, same shape:
        l = -w [y log x + (1 - y) log(1 - x)],  each log clamped at -100 (PyTorch's guard
    against log 0 = -inf). dl/dx = w (x - y) / max(x (1 - x), 1e-12);
    dl/dy = w (log(1 - x) - log x)."""

    @staticmethod
    def forward(ctx, x, y, weight=None, reduction="mean"):
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100.0).astype(x.dtype, copy=False)
            log_1mx = np.maximum(np.log1p(-x), -100.0).astype(x.dtype, copy=False)
        loss = -(y * log_x + (1 - y) * log_1mx)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y, log_x, log_1mx, weight)
        ctx.info = (reduction, loss.size, loss.shape)
        return _reduce(loss, reduction, loss.size)

    @staticmethod
    def backward(ctx, grad):
        x, y, log_x, log_1mx, weight = ctx.saved_arrays
        reduction, denom, shape = ctx.info
        g = _unreduce(grad, shape, reduction, denom)
        if weight is not None:
            g = g * weight
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = g * (x - y) / np.maximum(x * (1 - x), x.dtype.type(1e-12))
        if ctx.needs_input_grad[1]:
            gy = g * (log_1mx - log_x)
        return gx, gy


@register("binary_cross_entropy_with_logits")
class BinaryCrossEntropyWithLogits(Function):
    """Sigmoid + binary cross-entropy from raw scores x, stable for any x:
        l = w [pw y softplus(-x) + (1 - y) softplus(x)]
    because -log sigmoid(x) = softplus(-x) and -log(1 - sigmoid(x)) = softplus(x);
    pw = pos_weight (per class, broadcast along the last axis) weighs positive examples.
    dl/dx = w [(1 - y) sigmoid(x) - pw y (1 - sigmoid(x))];
    dl/dy = w [pw softplus(-x) - softplus(x)]."""

    @staticmethod
    def forward(ctx, x, y, weight=None, pos_weight=None, reduction="mean"):
        sp_neg = np.logaddexp(x.dtype.type(0), -x)      # softplus(-x) = -log sigmoid(x)
        sp_pos = np.logaddexp(x.dtype.type(0), x)       # softplus(x)  = -log(1 - sigmoid(x))
        pw = pos_weight if pos_weight is not None else x.dtype.type(1)
        loss = pw * y * sp_neg + (1 - y) * sp_pos
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(y, sp_neg, sp_pos, weight, pos_weight)
        ctx.info = (reduction, loss.size, loss.shape)
        return _reduce(loss, reduction, loss.size)

    @staticmethod
    def backward(ctx, grad):
        y, sp_neg, sp_pos, weight, pos_weight = ctx.saved_arrays
        reduction, denom, shape = ctx.info
        g = _unreduce(grad, shape, reduction, denom)
        if weight is not None:
            g = g * weight
        pw = pos_weight if pos_weight is not None else y.dtype.type(1)
        gx = gy = None
        if ctx.needs_input_grad[0]:
            sig = np.exp(-sp_neg)
            gx = g * ((1 - y) * sig - pw * y * (1 - sig))
        if ctx.needs_input_grad[1]:
            gy = g * (pw * sp_neg - sp_pos)
        return gx, gy


def _broadcast_const(op, value, x, name):
    a = _const_like(value, x)
    if a is None:
        return None
    try:
        np.broadcast_to(a, x.shape)
    except ValueError:
        raise ValueError(f"{op}: {name} of shape {_shape_str(a.shape)} does not broadcast to "
                         f"the input shape {_shape_str(x.shape)}") from None
    return np.ascontiguousarray(np.broadcast_to(a, x.shape))


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """F.binary_cross_entropy: input probabilities in [0, 1] (a sigmoid's output), target of
    the same shape (any shape). Prefer binary_cross_entropy_with_logits on raw scores: it is
    exact where sigmoid rounds to 0 or 1."""
    op = "binary_cross_entropy"
    reduction = _reduction(op, reduction, size_average, reduce)
    x = _float_input(op, input)
    y = _float_like(op, target, x, "target")
    _same_shape(op, x, y)
    if x.numel() and (np.nanmin(x.data) < 0 or np.nanmax(x.data) > 1):
        raise ValueError(f"{op}: all elements of input should be between 0 and 1 (they are "
                         f"probabilities), got values in [{float(x.data.min()):.4g}, "
                         f"{float(x.data.max()):.4g}]; apply sigmoid first, or use "
                         "binary_cross_entropy_with_logits on the raw scores")
    w = _broadcast_const(op, weight, x, "weight")
    return BinaryCrossEntropy.apply(x, y, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """F.binary_cross_entropy_with_logits: input raw scores, target in [0, 1], same shape
    (any shape); pos_weight (C,) multiplies the positive term of each class (last axis),
    e.g. n_negative / n_positive for an imbalanced label."""
    op = "binary_cross_entropy_with_logits"
    reduction = _reduction(op, reduction, size_average, reduce)
    x = _float_input(op, input)
    y = _float_like(op, target, x, "target")
    _same_shape(op, x, y)
    w = _broadcast_const(op, weight, x, "weight")
    pw = _broadcast_const(op, pos_weight, x, "pos_weight")
    return BinaryCrossEntropyWithLogits.apply(x, y, weight=w, pos_weight=pw,
                                              reduction=reduction)


class _PointwiseLoss(Function):
    """l = f(x - y) elementwise; subclasses give f and f' as `elementwise(d) -> (f, f')`.
    Backward: dl/dx = f'(d) and dl/dy = -f'(d), times the reduction's share."""

    @staticmethod
    def elementwise(d, **params):
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, x, y, reduction="mean", **params):
        loss, slope = cls.elementwise(x - y, **params)
        ctx.save_for_backward(slope)
        ctx.info = (reduction, loss.size, loss.shape)
        return _reduce(loss, reduction, loss.size)

    @staticmethod
    def backward(ctx, grad):
        (slope,) = ctx.saved_arrays
        reduction, denom, shape = ctx.info
        gd = _unreduce(grad, shape, reduction, denom) * slope
        return gd, -gd


@register("mse_loss")
class MSELoss(_PointwiseLoss):
    """l = (x - y)^2; dl/dx = 2 (x - y). SRCNN's loss: the mean over every pixel."""

    @staticmethod
    def elementwise(d):
        return d * d, 2 * d


@register("l1_loss")
class L1Loss(_PointwiseLoss):
    """l = |x - y|; dl/dx = sign(x - y) (0 at 0, as PyTorch)."""

    @staticmethod
    def elementwise(d):
        return np.abs(d), np.sign(d)


@register("smooth_l1_loss")
class SmoothL1Loss(_PointwiseLoss):
    """Fast R-CNN's box-regression loss: quadratic near 0, linear beyond beta,
        l = 0.5 d^2 / beta  if |d| < beta,  else |d| - 0.5 beta;
    dl/dx = d / beta inside, sign(d) outside. beta = 0 is the L1 loss."""

    @staticmethod
    def elementwise(d, beta=1.0):
        a = np.abs(d)
        if beta == 0:
            return a, np.sign(d)
        inside = a < beta
        b = d.dtype.type(beta)
        loss = np.where(inside, 0.5 * d * d / b, a - 0.5 * b)
        return loss.astype(d.dtype, copy=False), np.where(inside, d / b, np.sign(d))


@register("huber_loss")
class HuberLoss(_PointwiseLoss):
    """l = 0.5 d^2  if |d| < delta,  else delta (|d| - 0.5 delta)  (= delta * smooth_l1 with
    beta = delta); dl/dx = d inside, delta sign(d) outside."""

    @staticmethod
    def elementwise(d, delta=1.0):
        a = np.abs(d)
        inside = a < delta
        c = d.dtype.type(delta)
        loss = np.where(inside, 0.5 * d * d, c * (a - 0.5 * c))
        return loss.astype(d.dtype, copy=False), np.where(inside, d, c * np.sign(d))


def _pointwise(cls, op, input, target, reduction, **params):
    x = _float_input(op, input)
    y = _float_like(op, target, x, "target")
    _same_shape(op, x, y)
    return cls.apply(x, y, reduction=reduction, **params)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """F.mse_loss: mean squared error, input and target of the same shape (any shape)."""
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    return _pointwise(MSELoss, "mse_loss", input, target, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """F.l1_loss: mean absolute error, input and target of the same shape."""
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    return _pointwise(L1Loss, "l1_loss", input, target, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """F.smooth_l1_loss (Fast R-CNN): input and target of the same shape; beta >= 0."""
    reduction = _reduction("smooth_l1_loss", reduction, size_average, reduce)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    return _pointwise(SmoothL1Loss, "smooth_l1_loss", input, target, reduction,
                      beta=float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0):
    """F.huber_loss: input and target of the same shape; delta > 0."""
    reduction = _reduction("huber_loss", reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _pointwise(HuberLoss, "huber_loss", input, target, reduction, delta=float(delta))


@register("pairwise_distance")
class PairwiseDistance(Function):
    """d = ||x1 - x2 + eps||_p over the last axis: x1, x2 (N, D) (broadcastable) -> (N,).
    The eps keeps the gradient finite for identical vectors (PyTorch adds it the same way).
    With u = x1 - x2 + eps:  dd/du = sign(u) |u|^(p-1) / d^(p-1)  (u / d for p = 2)."""

    @staticmethod
    def forward(ctx, x1, x2, p=2.0, eps=1e-6, keepdim=False):
        u = x1 - x2 + x1.dtype.type(eps)
        if p == 2:
            d = np.sqrt((u * u).sum(axis=-1, keepdims=True))
        elif p == 1:
            d = np.abs(u).sum(axis=-1, keepdims=True)
        else:
            d = (np.abs(u) ** p).sum(axis=-1, keepdims=True) ** (1.0 / p)
        d = d.astype(x1.dtype, copy=False)
        ctx.save_for_backward(u, d)
        ctx.info = (p, x1.shape, x2.shape, keepdim)
        return d if keepdim else d[..., 0]

    @staticmethod
    def backward(ctx, grad):
        u, d = ctx.saved_arrays
        p, shape1, shape2, keepdim = ctx.info
        g = grad if keepdim else grad[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                du = u / d
            elif p == 1:
                du = np.sign(u)
            else:
                du = np.sign(u) * np.abs(u) ** (p - 1) / d ** (p - 1)
        du = np.where(d == 0, 0, du).astype(u.dtype, copy=False) * g
        return unbroadcast(du, shape1), unbroadcast(-du, shape2)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """F.pairwise_distance: ||x1 - x2 + eps||_p along the last axis; (N, D), (N, D) -> (N,)."""
    a = _float_input("pairwise_distance", x1, "first input")
    b = _float_like("pairwise_distance", x2, a, "second input")
    if not (p > 0 and math.isfinite(p)):
        raise ValueError(f"pairwise_distance: p must be a positive finite number, got {p}")
    if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-1]:
        raise ValueError(f"pairwise_distance: the inputs need the same feature size in their "
                         f"last dimension, got shapes {_shape_str(a.shape)} and "
                         f"{_shape_str(b.shape)}")
    E.broadcast_shapes("pairwise_distance", a.data, b.data)
    return PairwiseDistance.apply(a, b, p=float(p), eps=float(eps), keepdim=bool(keepdim))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """F.triplet_margin_loss (FaceNet; deck 002's face-recognition loss):

        l_n = max(d(a_n, p_n) - d(a_n, n_n) + margin, 0),   d(x, y) = ||x - y + eps||_p

    anchor, positive, negative (N, D) embeddings (or (D,)) -> scalar, or (N,) for 'none'.
    The deck writes squared distances, ||f(A) - f(P)||^2; PyTorch (and this) use the plain
    p-norm. swap=True uses min(d(a, n), d(p, n)) as the negative distance (Balntas et al.).
    """
    op = "triplet_margin_loss"
    reduction = _reduction(op, reduction, size_average, reduce)
    a = _float_input(op, anchor, "anchor")
    pos = _float_like(op, positive, a, "positive")
    neg = _float_like(op, negative, a, "negative")
    if not (a.ndim == pos.ndim == neg.ndim) or a.ndim not in (1, 2):
        raise ValueError(f"{op}: anchor, positive and negative must all be (N, D) or all (D,), "
                         f"got shapes {_shape_str(a.shape)}, {_shape_str(pos.shape)}, "
                         f"{_shape_str(neg.shape)}")
    if not (a.shape[-1] == pos.shape[-1] == neg.shape[-1]):
        raise ValueError(f"{op}: the embeddings must have one size D, got shapes "
                         f"{_shape_str(a.shape)}, {_shape_str(pos.shape)}, "
                         f"{_shape_str(neg.shape)}")
    d_ap = pairwise_distance(a, pos, p, eps)
    d_an = pairwise_distance(a, neg, p, eps)
    if swap:
        d_an = minimum(d_an, pairwise_distance(pos, neg, p, eps))
    loss = clamp(d_ap - d_an + margin, min=0.0)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


@register("multi_margin_loss")
class MultiMarginLoss(Function):
    """The multi-class SVM hinge (R-CNN's per-class SVMs, CS231n's SVM loss):

        l_n = 1/C sum_{i != t_n} w_{t_n} max(0, margin - x_{n, t_n} + x_{n, i})^p,  p in {1, 2}

    x (N, C) scores, target (N,) -> (N,). With z_i = margin - x_t + x_i > 0 the class i
    "violates the margin": it gets dl/dx_i = w_t p z_i^(p-1) / C and the target class gets
    minus the sum of those.
    """

    @staticmethod
    def forward(ctx, x, target, p=1, margin=1.0, weight=None, reduction="mean"):
        n, c = x.shape
        rows = np.arange(n)
        z = x.dtype.type(margin) - x[rows, target][:, None] + x
        z[rows, target] = 0            # the target class itself does not count
        z = np.maximum(z, 0)
        wt = weight[target] if weight is not None else np.ones(n, x.dtype)
        loss = ((z if p == 1 else z * z).sum(axis=1) * wt / c).astype(x.dtype, copy=False)
        ctx.save_for_backward(z, target, wt)
        ctx.info = (p, reduction, n)
        return _reduce(loss, reduction, n)

    @staticmethod
    def backward(ctx, grad):
        z, target, wt = ctx.saved_arrays
        p, reduction, n = ctx.info
        c = z.shape[1]
        g = _unreduce(grad, (n,), reduction, n) * wt / z.dtype.type(c)
        slope = (z > 0).astype(z.dtype) if p == 1 else 2 * z
        gx = slope * g[:, None]
        gx[np.arange(n), target] -= gx.sum(axis=1)
        return gx, None


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """F.multi_margin_loss: input (N, C) or (C,) class scores, target (N,) or () indices,
    weight (C,) per target class; p = 1 (hinge) or 2 (squared hinge)."""
    op = "multi_margin_loss"
    reduction = _reduction(op, reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got p={p}")
    x = _float_input(op, input)
    t = as_tensor(target)
    if x.ndim not in (1, 2):
        raise ValueError(f"{op}: expected an input (N, C) or (C,), got shape "
                         f"{_shape_str(x.shape)}")
    c = _check_class_targets(op, x, t)
    w = _const_like(weight, x, (c,), op, "weight (one value per class)")
    x2, t2, unbatched = _batched(x, t)
    out = MultiMarginLoss.apply(x2, t2.data, p=int(p), margin=float(margin), weight=w,
                                reduction=reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out


def dice_loss(input, target, smooth=1.0, ignore_index=-100):
    """Soft Dice loss on softmax probabilities (not in PyTorch; U-Net papers' V-Net form):

        p = softmax(input, dim=1),  y = one_hot(target),  m = 1 where target != ignore_index
        I_c = sum_{n,h,w} m p_c y_c,   S_c = sum_{n,h,w} m (p_c + y_c)
        dice_c = (2 I_c + smooth) / (S_c + smooth),    loss = 1 - mean_c dice_c

    input (N, C, d1, ...) logits, target (N, d1, ...) class indices (entries equal to
    ignore_index count for nothing) -> scalar. smooth > 0 makes a class absent from both the
    prediction and the target score 1 instead of 0/0. Composed from softmax, products and sums,
    so autograd supplies the backward. (The `dice_loss` exercise writes the binary form, one
    foreground probability per pixel and a mean over images; this is its multi-class form.)
    """
    op = "dice_loss"
    x = _float_input(op, input)
    if x.ndim < 2:
        raise ValueError(f"{op}: the input must be (N, C, d1, ...) logits with the classes on "
                         f"axis 1, got shape {_shape_str(x.shape)}")
    t = as_tensor(target)
    c = _check_class_targets(op, x, t, ignore_index)
    if not (math.isfinite(smooth) and smooth >= 0):
        raise ValueError(f"{op}: smooth must be a finite number >= 0, got {smooth}")
    labels = t.data
    valid = labels != ignore_index
    # one-hot with the class axis at 1, zero at ignored entries; the mask is the same for p
    onehot = (np.moveaxis(np.eye(c, dtype=x.dtype)[np.where(valid, labels, 0)], -1, 1)
              * np.expand_dims(valid, 1))
    mask = np.expand_dims(valid, 1).astype(x.dtype)
    p = x.softmax(dim=1) * mask
    axes = (0,) + tuple(range(2, x.ndim))
    intersection = (p * onehot).sum(axis=axes)
    total = p.sum(axis=axes) + onehot.sum(axis=axes)
    dice = (intersection * 2.0 + smooth) / (total + smooth)
    return 1.0 - dice.mean()
