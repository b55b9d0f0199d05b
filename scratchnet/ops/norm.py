"""The ops behind nn's non-convolutional layers: linear, batch_norm, local_response_norm and
dropout (dropout2d shares dropout's op with a per-channel mask).

Each is one Function with its backward written out, because the composed graph would be both
slower and harder to read than the textbook formulas (batch norm's backward is the classic
CS231n exercise). The functional wrappers at the bottom validate arguments and name what was
expected and what was received.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _threads
from .. import random as _random
from ..autograd.function import Function, register
from ..autograd.tensor import Tensor
from .methods import as_tensor


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _shape_str(shape):
    return str(tuple(int(s) for s in shape))


def _require_float(op, x, name="input"):
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: the {name} must be floating point, got {x.dtype}; call "
                        ".float() on it first")


def _same_dtype(op, x, param, name):
    if param is not None and param.dtype != x.dtype:
        raise TypeError(f"{op}: the input is {x.dtype} but the {name} is {param.dtype}; "
                        f"convert one of them (model.double() / model.float(), or x.to(...))")


@register("linear")
class Linear(Function):
    """y = x W^T + b:  x (*, in), W (out, in), b (out,) -> y (*, out)."""

    @staticmethod
    @_threads.own_threads
    def forward(ctx, x, weight, bias=None):
        ctx.save_for_backward(x, weight)
        # W @ x^T, then transposed back: with few rows in x, OpenBLAS runs this orientation
        # 1.5-3x faster than x @ W^T (measured on VGG's fc6, 25088 -> 4096, batch 2-64)
        # explicit row counts: reshape(-1, 0) is ambiguous when in_features is 0
        # (each product's rows cut between threads: _threads.matmul_by_rows)
        x2 = x.reshape(math.prod(x.shape[:-1]), weight.shape[1])
        out = np.ascontiguousarray(_threads.matmul_by_rows(weight, x2.T).T)
        out = out.reshape(x.shape[:-1] + (weight.shape[0],))
        if bias is not None:
            out += bias
        return out

    @staticmethod
    @_threads.own_threads
    def backward(ctx, grad):
        x, weight = ctx.saved_arrays
        rows = math.prod(x.shape[:-1])
        g2 = grad.reshape(rows, weight.shape[0])
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:                                    # (*, in)
            if _threads.splits(weight.shape[1], weight.size * rows):     # W^T @ grad^T
                gx = _threads.matmul_by_rows(weight.T, g2.T).T.reshape(x.shape)
            else:
                gx = np.matmul(grad, weight)
        if ctx.needs_input_grad[1]:                                    # (out, in)
            gw = _threads.matmul_by_rows(g2.T, x.reshape(rows, weight.shape[1]))
        if ctx.needs_input_grad[2]:
            gb = g2.sum(axis=0)                                        # (out,)
        return gx, gw, gb


def linear(input, weight, bias=None):
    """F.linear: input (*, in_features), weight (out_features, in_features),
    bias (out_features,) -> (*, out_features)."""
    x, w = as_tensor(input), as_tensor(weight)
    _require_float("linear", x)
    if w.ndim != 2:
        raise ValueError(f"linear: the weight must be 2-D (out_features, in_features), got "
                         f"shape {_shape_str(w.shape)}")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        got = x.shape[-1] if x.ndim else "no"
        raise ValueError(f"linear: the input has {got} features in its last dimension (shape "
                         f"{_shape_str(x.shape)}) but the weight {_shape_str(w.shape)} expects "
                         f"in_features={w.shape[1]}")
    _same_dtype("linear", x, w, "weight")
    if bias is None:
        return Linear.apply(x, w, None)
    b = as_tensor(bias)
    if b.shape != (w.shape[0],):
        raise ValueError(f"linear: the bias must have shape ({w.shape[0]},) to match "
                         f"out_features, got {_shape_str(b.shape)}")
    _same_dtype("linear", x, b, "bias")
    return Linear.apply(x, w, b)


def _channel_sum(a, b=None):
    """Sum over every axis but axis 1, of `a` or of `a * b` (without building the product:
    at batch-norm sizes each temporary array costs as much as the arithmetic)."""
    a3 = a.reshape(a.shape[0], a.shape[1], -1)
    if b is None:
        return a3.sum(axis=2).sum(axis=0)
    return np.einsum("ncl,ncl->c", a3, b.reshape(a3.shape))


@register("batch_norm")
class BatchNorm(Function):
    """Batch normalisation over every axis but the channel axis 1.

    x (N, C) or (N, C, L) or (N, C, H, W); weight, bias, running stats (C,) -> y like x.

    Training: mean and biased variance over the M = N*L (or N*H*W) values of each channel,
        xhat = (x - mean) / sqrt(var + eps),  y = weight * xhat + bias,
    and the running stats move towards the batch's (in place), PyTorch's rule:
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)
    (the unbiased variance for the estimate, the biased one for normalising).
    Evaluation: running_mean / running_var take the place of the batch statistics.

    Backward (training), with k = weight / sqrt(var + eps) per channel: the mean and the
    variance depend on x too, and CS231n's staged derivation folds into
        dx = k * (g - sum(g) / M - xhat * sum(g * xhat) / M),
        dweight = sum(g * xhat),  dbias = sum(g),
    sums over everything but the channel axis. In evaluation dx = k * g.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, running_mean=None, running_var=None,
                training=True, momentum=0.1, eps=1e-5):
        bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        m = x.size // x.shape[1]
        if training:
            mean = _channel_sum(x) / x.dtype.type(m)
            xhat = x - mean.reshape(bshape)
            var = _channel_sum(xhat, xhat) / x.dtype.type(m)
            if running_mean is not None:
                running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            if running_var is not None:
                running_var[...] = (1 - momentum) * running_var + momentum * var * (m / (m - 1))
        else:
            xhat = x - running_mean.astype(x.dtype, copy=False).reshape(bshape)
            var = running_var.astype(x.dtype, copy=False)
        invstd = (1.0 / np.sqrt(var + x.dtype.type(eps))).astype(x.dtype, copy=False)
        xhat *= invstd.reshape(bshape)
        out = xhat * weight.reshape(bshape) if weight is not None else xhat.copy()
        if bias is not None:
            out += bias.reshape(bshape)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.info = (bshape, m, training)
        return out

    @staticmethod
    def backward(ctx, grad):
        xhat, invstd, weight = ctx.saved_arrays
        bshape, m, training = ctx.info
        needs = ctx.needs_input_grad
        k = invstd if weight is None else invstd * weight
        g_sum = _channel_sum(grad) if needs[2] or (needs[0] and training) else None
        gx_sum = _channel_sum(grad, xhat) if needs[1] or (needs[0] and training) else None
        gx = None
        if needs[0]:
            gx = grad * k.reshape(bshape)
            if training:
                gx -= xhat * (k * gx_sum / m).reshape(bshape)
                gx -= (k * g_sum / m).reshape(bshape)
        return gx, (gx_sum if needs[1] else None), (g_sum if needs[2] else None)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """F.batch_norm: input (N, C, *) -> (N, C, *). Running stats (C,) are updated in place
    when training; in evaluation they normalise. See BatchNorm for the formulas."""
    x = as_tensor(input)
    _require_float("batch_norm", x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input (N, C, ...) with at least 2 "
                         f"dimensions, got shape {_shape_str(x.shape)}")
    c = x.shape[1]
    arrays = {}
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},), one value per "
                             f"channel of the input {_shape_str(x.shape)}, got "
                             f"{_shape_str(t.shape)}")
        arrays[name] = _data(t) if t is not None else None
    if training:
        if x.numel() // max(c, 1) <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input size {_shape_str(x.shape)}; a batch of one "
                             "vector has no variance (use model.eval() to predict one sample)")
    elif running_mean is None or running_var is None:
        raise ValueError("batch_norm: evaluation mode (training=False) normalises with the "
                         "running statistics, but running_mean / running_var are None")
    w = as_tensor(weight) if weight is not None else None
    b = as_tensor(bias) if bias is not None else None
    _same_dtype("batch_norm", x, w, "weight")
    _same_dtype("batch_norm", x, b, "bias")
    return BatchNorm.apply(x, w, b, running_mean=arrays["running_mean"],
                           running_var=arrays["running_var"], training=bool(training),
                           momentum=float(momentum), eps=float(eps))


def _channel_window_sum(x, before, after):
    """out[:, c] = x[:, c - before] + ... + x[:, c + after], channels outside [0, C) being 0."""
    c = x.shape[1]
    out = np.zeros_like(x)
    for off in range(-before, after + 1):
        lo, hi = max(0, -off), min(c, c - off)
        if lo < hi:
            out[:, lo:hi] += x[:, lo + off:hi + off]
    return out


@register("local_response_norm")
class LocalResponseNorm(Function):
    """AlexNet's local response normalisation across channels, PyTorch's formula:

        s_c = k + alpha / n * sum_{c' = c - n//2}^{c + (n-1)//2} a_{c'}^2,   b_c = a_c * s_c^-beta

    x (N, C, *) -> (N, C, *). Backward: a_j appears in its own s_j and in the s_c of every
    channel whose window holds j (c in [j - (n-1)//2, j + n//2]), so
        da_j = g_j s_j^-beta - 2 beta alpha / n * a_j * sum_{those c} g_c a_c s_c^(-beta-1).
    """

    @staticmethod
    def forward(ctx, a, size, alpha=1e-4, beta=0.75, k=1.0):
        scale = a.dtype.type(alpha / size)
        s = a.dtype.type(k) + scale * _channel_window_sum(a * a, size // 2, (size - 1) // 2)
        ctx.save_for_backward(a, s)
        ctx.info = (size, alpha, beta)
        return a * s ** a.dtype.type(-beta)

    @staticmethod
    def backward(ctx, grad):
        a, s = ctx.saved_arrays
        size, alpha, beta = ctx.info
        s_pow = s ** a.dtype.type(-beta)
        t = grad * a * s_pow / s
        back = _channel_window_sum(t, (size - 1) // 2, size // 2)
        return grad * s_pow - a.dtype.type(2 * beta * alpha / size) * a * back


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """F.local_response_norm: (N, C, *) -> (N, C, *), normalised over `size` neighbouring
    channels (AlexNet used size=5, alpha=1e-4, beta=0.75, k=2)."""
    x = as_tensor(input)
    _require_float("local_response_norm", x)
    if x.ndim < 3:
        raise ValueError(f"local_response_norm: expected an input (N, C, ...) with 3 or more "
                         f"dimensions, got shape {_shape_str(x.shape)}")
    if int(size) != size or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive integer, got {size!r}")
    return LocalResponseNorm.apply(x, size=int(size), alpha=float(alpha), beta=float(beta),
                                   k=float(k))


@register("dropout")
class Dropout(Function):
    """y = x * mask, where mask (broadcastable to x) holds 0 for dropped units and 1/(1-p)
    for kept ones ("inverted" dropout: the expected value of y is x, so evaluation needs no
    rescaling). The backward lets the gradient through the same mask."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_arrays
        return grad * mask, None


def _check_p(op, p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def _dropout_mask(shape, p, dtype, generator):
    g = _random.get_generator(generator)
    if p == 1.0:
        return np.zeros(shape, dtype)
    keep = g.random(shape) >= p
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))


def dropout(input, p=0.5, training=True, inplace=False, generator=None):
    """F.dropout: zero each element with probability p and scale the rest by 1/(1-p);
    the identity when training=False. Any shape -> same shape. Masks come from scratchnet's
    generator (reproducible with manual_seed). `inplace` is accepted for PyTorch code and
    ignored: the result is always a new tensor."""
    _check_p("dropout", p)
    x = as_tensor(input)
    if not training or p == 0.0:
        return x
    _require_float("dropout", x)
    return Dropout.apply(x, _dropout_mask(x.shape, p, x.dtype, generator))


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None):
    """F.dropout2d: zero whole channels. (N, C, H, W) -> (N, C, H, W) with one draw per
    (n, c) plane, because neighbouring pixels of a feature map are strongly correlated and
    dropping single pixels barely regularises a conv layer (Tompson et al. 2015). A 3-D input
    is taken as (N, C, L), as PyTorch currently does."""
    _check_p("dropout2d", p)
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 4-D (N, C, H, W) or 3-D (N, C, L) input, got "
                         f"shape {_shape_str(x.shape)}")
    if not training or p == 0.0:
        return x
    _require_float("dropout2d", x)
    mask_shape = x.shape[:2] + (1,) * (x.ndim - 2)
    return Dropout.apply(x, _dropout_mask(mask_shape, p, x.dtype, generator))


# layer norm and group norm normalise rows of a (M, K) view: each row is one sample (layer
# norm: the trailing `normalized_shape` dims; group norm: one group of C/G channels with all
# their pixels), and the backward of one row is batch norm's formula along that row.
def _normalize_rows(x2, eps):
    """x2 (M, K) -> (xhat (M, K), invstd (M, 1)), biased variance, as torch."""
    mean = x2.mean(axis=1, keepdims=True)
    xc = x2 - mean
    var = np.einsum("mk,mk->m", xc, xc)[:, None] / x2.dtype.type(x2.shape[1])
    invstd = (1.0 / np.sqrt(var + x2.dtype.type(eps))).astype(x2.dtype, copy=False)
    return xc * invstd, invstd


def _normalize_rows_backward(gxhat, xhat, invstd):
    """d/dx of the row normalisation, (M, K) each:
    dx = invstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)) along each row."""
    k = xhat.dtype.type(xhat.shape[1])
    mg = gxhat.sum(axis=1, keepdims=True) / k
    mgx = np.einsum("mk,mk->m", gxhat, xhat)[:, None] / k
    return invstd * (gxhat - mg - xhat * mgx)


@register("layer_norm")
class LayerNorm(Function):
    """Layer normalisation (Ba et al., 2016) over the last D dims of x:

        x (*, S) with S = normalized_shape (D dims); weight, bias of shape S -> y like x,
        xhat = (x - mean) / sqrt(var + eps) per sample, over its prod(S) values,
        y = xhat * weight + bias.

    Backward: each sample is a row, dx = row-normalisation backward of g * weight;
    dweight = sum over samples of g * xhat, dbias = sum over samples of g.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, ndim=1, eps=1e-5):
        shape = x.shape[x.ndim - ndim:]
        xhat, invstd = _normalize_rows(x.reshape(-1, int(np.prod(shape, dtype=np.int64))), eps)
        xhat = xhat.reshape(x.shape)
        out = xhat * weight if weight is not None else xhat.copy()
        if bias is not None:
            out += bias
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.shape = shape
        return out

    @staticmethod
    def backward(ctx, grad):
        xhat, invstd, weight = ctx.saved_arrays
        needs = ctx.needs_input_grad
        rows = (invstd.shape[0], -1)
        per_sample = (-1,) + ctx.shape
        gx = gw = gb = None
        if needs[0]:
            gxhat = grad * weight if weight is not None else grad
            gx = _normalize_rows_backward(gxhat.reshape(rows), xhat.reshape(rows),
                                          invstd).reshape(grad.shape)
        if needs[1]:
            gw = (grad * xhat).reshape(per_sample).sum(axis=0)
        if needs[2]:
            gb = grad.reshape(per_sample).sum(axis=0)
        return gx, gw, gb


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """F.layer_norm: input (*, *normalized_shape) -> the same shape, each sample normalised
    over its last len(normalized_shape) dims; weight, bias: normalized_shape."""
    op = "layer_norm"
    x = as_tensor(input)
    _require_float(op, x)
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(normalized_shape)
    shape = tuple(int(s) for s in shape)
    if not shape:
        raise ValueError(f"{op}: normalized_shape must name at least one dimension, got ()")
    if x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise ValueError(f"{op}: normalized_shape {shape} must be the last {len(shape)} "
                         f"dimension(s) of the input, but the input has shape "
                         f"{_shape_str(x.shape)}")
    params = []
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            params.append(None)
            continue
        t = as_tensor(t)
        if t.shape != shape:
            raise ValueError(f"{op}: {name} must have normalized_shape {shape}, got "
                             f"{_shape_str(t.shape)}")
        _same_dtype(op, x, t, name)
        params.append(t)
    return LayerNorm.apply(x, *params, ndim=len(shape), eps=float(eps))


@register("group_norm")
class GroupNorm(Function):
    """Group normalisation (Wu and He, 2018): the C channels split into G groups of C/G,

        x (N, C, *) -> y like x; weight, bias (C,),
        xhat normalised over each sample's group (C/G channels times all positions),
        y = xhat * weight[c] + bias[c].

    G = 1 is layer norm over (C, H, W); G = C is instance norm.
    Backward: the row-normalisation backward of g * weight[c] per (sample, group) row;
    dweight[c] = sum of g * xhat over N and positions, dbias[c] = sum of g.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, num_groups=1, eps=1e-5):
        n, c = x.shape[:2]
        bshape = (1, c) + (1,) * (x.ndim - 2)
        xhat, invstd = _normalize_rows(x.reshape(n * num_groups, -1), eps)
        xhat = xhat.reshape(x.shape)
        out = xhat * weight.reshape(bshape) if weight is not None else xhat.copy()
        if bias is not None:
            out += bias.reshape(bshape)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.bshape = bshape
        return out

    @staticmethod
    def backward(ctx, grad):
        xhat, invstd, weight = ctx.saved_arrays
        needs = ctx.needs_input_grad
        rows = (invstd.shape[0], -1)
        gx = gw = gb = None
        if needs[0]:
            gxhat = grad * weight.reshape(ctx.bshape) if weight is not None else grad
            gx = _normalize_rows_backward(gxhat.reshape(rows), xhat.reshape(rows),
                                          invstd).reshape(grad.shape)
        if needs[1]:
            gw = _channel_sum(grad, xhat)
        if needs[2]:
            gb = _channel_sum(grad)
        return gx, gw, gb


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """F.group_norm: input (N, C, *) -> the same shape; C must divide into num_groups
    groups; weight, bias (C,)."""
    op = "group_norm"
    x = as_tensor(input)
    _require_float(op, x)
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an input (N, C, *) with at least 2 dimensions, got "
                         f"shape {_shape_str(x.shape)}")
    c = x.shape[1]
    g = int(num_groups)
    if g != num_groups or g < 1 or c % g:
        raise ValueError(f"{op}: expected the number of channels ({c}) to be divisible by "
                         f"num_groups, got num_groups={num_groups!r}: {c} / {num_groups} = "
                         f"{c / num_groups if num_groups else float('nan'):.3g}")
    params = []
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            params.append(None)
            continue
        t = as_tensor(t)
        if t.shape != (c,):
            raise ValueError(f"{op}: {name} must have shape ({c},), one value per channel of "
                             f"the input {_shape_str(x.shape)}, got {_shape_str(t.shape)}")
        _same_dtype(op, x, t, name)
        params.append(t)
    return GroupNorm.apply(x, *params, num_groups=g, eps=float(eps))
