"""Ops that move data around without arithmetic: reshape, permute, expand, indexing,
cat / stack / split, pad, flip. Their backwards move the gradient back the same way; indexing
scatter-adds, so an element picked twice receives both gradients.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, register
from .reduce import normalize_axis


def _format_shape(shape):
    return str(tuple(int(s) for s in shape))


@register("reshape")
class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot view {a.size} elements of shape "
                             f"{_format_shape(a.shape)} as {_format_shape(shape)}") from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape)


@register("permute")
class Permute(Function):
    @staticmethod
    def forward(ctx, a, dims):
        dims = normalize_axis(dims, a.ndim, "permute")
        if len(dims) != a.ndim:
            raise ValueError(f"permute: a tensor of shape {a.shape} needs {a.ndim} dims, "
                             f"got {len(dims)}")
        ctx.inverse = tuple(np.argsort(dims))
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(ctx.inverse)


@register("expand")
class Expand(Function):
    """Broadcast to a larger shape (no copy); the gradient is summed back."""

    @staticmethod
    def forward(ctx, a, shape):
        shape = tuple(a.shape[i - len(shape) + a.ndim] if s == -1 else s
                      for i, s in enumerate(shape))
        try:
            out = np.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"expand: shape {a.shape} cannot be broadcast to {shape}; "
                             "only size-1 dimensions can grow") from None
        ctx.in_shape = a.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        from .elementwise import unbroadcast
        return np.ascontiguousarray(unbroadcast(grad, ctx.in_shape))


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer))
               for i in items)


def convert_index(index):
    """Turn Tensors inside an index into ndarrays."""
    from ..autograd.tensor import Tensor

    def conv(i):
        if isinstance(i, Tensor):
            return i.data
        if isinstance(i, list):
            return np.asarray(i)
        return i

    if isinstance(index, tuple):
        return tuple(conv(i) for i in index)
    return conv(index)


@register("getitem")
class GetItem(Function):
    @staticmethod
    def forward(ctx, a, index):
        try:
            out = a[index]
        except IndexError as e:
            raise IndexError(f"indexing a tensor of shape {a.shape}: {e}") from None
        ctx.info = (a.shape, a.dtype, index)
        return out if isinstance(out, np.ndarray) else np.asarray(out)

    @staticmethod
    def backward(ctx, grad):
        shape, dtype, index = ctx.info
        g = np.zeros(shape, dtype=dtype)
        if _is_basic_index(index):
            g[index] = grad
        else:
            np.add.at(g, index, grad)
        return g


@register("cat")
class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        if not arrays:
            raise ValueError("cat: needs at least one tensor")
        nd = arrays[0].ndim
        (ax,) = normalize_axis(axis, nd, "cat")
        for i, a in enumerate(arrays):
            if a.ndim != nd or any(a.shape[d] != arrays[0].shape[d]
                                   for d in range(nd) if d != ax):
                raise ValueError(
                    f"cat along axis {ax}: tensor 0 has shape {arrays[0].shape} but tensor "
                    f"{i} has shape {a.shape}; all sizes except axis {ax} must match")
        ctx.info = (ax, np.cumsum([a.shape[ax] for a in arrays])[:-1])
        return np.concatenate(arrays, axis=ax)

    @staticmethod
    def backward(ctx, grad):
        ax, splits = ctx.info
        return tuple(np.ascontiguousarray(g) for g in np.split(grad, splits, axis=ax))


@register("stack")
class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        if not arrays:
            raise ValueError("stack: needs at least one tensor")
        for i, a in enumerate(arrays):
            if a.shape != arrays[0].shape:
                raise ValueError(f"stack: tensor 0 has shape {arrays[0].shape} but tensor {i} "
                                 f"has shape {a.shape}; stacked tensors must all match")
        (ax,) = normalize_axis(axis, arrays[0].ndim + 1, "stack")
        ctx.axis = ax
        return np.stack(arrays, axis=ax)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.ascontiguousarray(np.take(grad, i, axis=ctx.axis))
                     for i in range(grad.shape[ctx.axis]))


@register("split")
class Split(Function):
    """Several outputs: pieces of sizes `sizes` along `axis`."""

    @staticmethod
    def forward(ctx, a, sizes, axis=0):
        (ax,) = normalize_axis(axis, a.ndim, "split")
        if sum(sizes) != a.shape[ax]:
            raise ValueError(f"split: sizes {list(sizes)} add up to {sum(sizes)} but axis "
                             f"{ax} has size {a.shape[ax]}")
        ctx.info = (ax, a.shape, a.dtype)
        return tuple(np.split(a, np.cumsum(sizes)[:-1], axis=ax))

    @staticmethod
    def backward(ctx, *grads):
        ax, shape, dtype = ctx.info
        return np.concatenate(grads, axis=ax).astype(dtype, copy=False), None


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


@register("pad")
class Pad(Function):
    """F.pad: `pad` lists (before, after) pairs starting from the LAST dimension, as
    PyTorch does: (left, right, top, bottom) for the last two dims of an image.

    The backward of every mode is a gather-and-sum: pad an array holding each element's own
    flat index with the same mode, and every output position then names the input element it
    copies (constant padding positions name none)."""

    @staticmethod
    def forward(ctx, a, pad, mode="constant", value=0.0):
        if mode not in _PAD_MODES:
            raise ValueError(f"pad: mode must be one of {sorted(_PAD_MODES)}, got {mode!r}")
        if len(pad) % 2 or len(pad) // 2 > a.ndim:
            raise ValueError(f"pad: needs (before, after) pairs for at most {a.ndim} "
                             f"dimensions, got {tuple(pad)}")
        widths = [(0, 0)] * a.ndim
        for i in range(len(pad) // 2):
            widths[a.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
        if any(lo < 0 or hi < 0 for lo, hi in widths):
            # negative padding crops, as in PyTorch
            crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in
                         zip(widths, a.shape))
            widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        else:
            crop = None
        ctx.info = (a.shape, widths, crop, mode)
        src = a[crop] if crop else a
        if mode == "reflect":
            for (lo, hi), n in zip(widths, src.shape):
                if lo >= n or hi >= n:
                    raise ValueError(f"pad: reflect padding ({lo}, {hi}) must be smaller than "
                                     f"the dimension it pads ({n})")
        if mode == "constant":
            return np.pad(src, widths, mode="constant", constant_values=value)
        return np.pad(src, widths, mode=_PAD_MODES[mode])

    @staticmethod
    def backward(ctx, grad):
        shape, widths, crop, mode = ctx.info
        g = np.zeros(shape, dtype=grad.dtype)
        gsrc = g[crop] if crop else g
        if mode == "constant":
            inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, gsrc.shape))
            gsrc[...] = grad[inner]
        else:
            ids = np.arange(gsrc.size).reshape(gsrc.shape)
            ids = np.pad(ids, widths, mode=_PAD_MODES[mode])
            gsrc[...] = np.bincount(ids.ravel(), weights=grad.ravel(),
                                    minlength=gsrc.size).reshape(gsrc.shape)
        return g


@register("flip")
class Flip(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = normalize_axis(dims, a.ndim, "flip")
        return np.flip(a, ctx.dims).copy()

    @staticmethod
    def backward(ctx, grad):
        return np.flip(grad, ctx.dims).copy()
