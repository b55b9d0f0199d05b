"""unfold (im2col) and fold (col2im) as public, differentiable ops, in torch's layout.

    unfold: x (N, C, H, W) -> (N, C*kh*kw, L),   L = H' * W' sliding windows
            out[n, (c*kh + i)*kw + j, y*W' + t] = x[n, c, y*sh - ph + i*dh, t*sw - pw + j*dw]
    fold:   (N, C*kh*kw, L) -> (N, C, H, W), every entry added back to the pixel it came from

fold is the adjoint of unfold (overlapping windows sum), so each is the other's backward; a
convolution is `weight.view(K, -1) @ unfold(x)` reshaped to (N, K, H', W'). Both run on the
numba kernels behind conv2d (kernels/im2col.py), whose columns are (C*kh*kw, N*L); the
batch axis moves to the front here. A 3-D input (no batch) is accepted, as in torch.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, register
from ..kernels.im2col import col2im, im2col
from ..shapes import conv_output_size, describe_window, pair
from .methods import as_tensor


def _unfold_array(x, window, out_hw):
    n = x.shape[0]
    cols = im2col(np.ascontiguousarray(x), *window, out_hw)     # (R, N*L)
    return np.ascontiguousarray(cols.reshape(cols.shape[0], n, -1).transpose(1, 0, 2))


def _fold_array(cols, image_shape, window, out_hw):
    r = cols.shape[1]
    flat = np.ascontiguousarray(cols.transpose(1, 0, 2)).reshape(r, -1)
    return col2im(flat, image_shape, *window, out_hw)


@register("unfold")
class Unfold(Function):
    """x (N, C, H, W) -> (N, C*kh*kw, L); backward: fold of the gradient."""

    @staticmethod
    def forward(ctx, x, window=None, out_hw=None):
        ctx.info = (x.shape, window, out_hw)
        return _unfold_array(x, window, out_hw)

    @staticmethod
    def backward(ctx, grad):
        shape, window, out_hw = ctx.info
        return _fold_array(grad, shape, window, out_hw)


@register("fold")
class Fold(Function):
    """(N, C*kh*kw, L) -> x (N, C, H, W), overlaps summed; backward: unfold of the gradient."""

    @staticmethod
    def forward(ctx, cols, image_shape=None, window=None, out_hw=None):
        ctx.info = (window, out_hw)
        return _fold_array(cols, image_shape, window, out_hw)

    @staticmethod
    def backward(ctx, grad):
        window, out_hw = ctx.info
        return _unfold_array(grad, window, out_hw)


def _window(op, kernel_size, dilation, padding, stride):
    k = pair(kernel_size, "kernel_size", op, 1)
    d = pair(dilation, "dilation", op, 1)
    p = pair(padding, "padding", op, 0)
    s = pair(stride, "stride", op, 1)
    return k, s, p, d


def _blocks(layer, hw, window):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = window
    return (conv_output_size(hw[0], kh, sh, ph, dh, layer=f"{layer} height"),
            conv_output_size(hw[1], kw, sw, pw, dw, layer=f"{layer} width"))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """F.unfold: the sliding windows of input (N, C, H, W) as columns, (N, C*kh*kw, L) with
    L = H' * W' and H' = floor((H + 2p - d*(k-1) - 1) / s) + 1 (W' likewise).
    A (C, H, W) input gives (C*kh*kw, L)."""
    x = as_tensor(input)
    window = _window("unfold", kernel_size, dilation, padding, stride)
    layer = describe_window("unfold", *window)
    if x.ndim not in (3, 4):
        raise ValueError(f"{layer}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
                         f"shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{layer}: the input must be floating point, got {x.dtype}")
    batched = x.ndim == 4
    if not batched:
        x = x.reshape(1, *x.shape)
    out_hw = _blocks(layer, x.shape[2:], window)
    y = Unfold.apply(x, window=window, out_hw=out_hw)
    return y if batched else y.reshape(y.shape[1:])


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """F.fold: columns (N, C*kh*kw, L) back to an image (N, C, H, W) with (H, W) =
    output_size, summing where windows overlap. L must be the number of windows that fit:
    H' * W' as in unfold. A (C*kh*kw, L) input gives (C, H, W)."""
    cols = as_tensor(input)
    window = _window("fold", kernel_size, dilation, padding, stride)
    hw = pair(output_size, "output_size", "fold", 1)
    layer = describe_window("fold", *window)
    if cols.ndim not in (2, 3):
        raise ValueError(f"{layer}: expected a 2-D (C*kh*kw, L) or 3-D (N, C*kh*kw, L) input, "
                         f"got shape {tuple(cols.shape)}")
    if cols.dtype.kind != "f":
        raise TypeError(f"{layer}: the input must be floating point, got {cols.dtype}")
    batched = cols.ndim == 3
    if not batched:
        cols = cols.reshape(1, *cols.shape)
    n, r, n_blocks = cols.shape
    (kh, kw) = window[0]
    if r % (kh * kw):
        raise ValueError(f"{layer}: expected size of input's dimension 1 to be divisible by "
                         f"the product of kernel_size, {kh}*{kw} = {kh * kw}, but got "
                         f"{r} (shape {tuple(cols.shape)})")
    out_hw = _blocks(layer, hw, window)
    if out_hw[0] * out_hw[1] != n_blocks:
        raise ValueError(f"{layer}: an output of {hw[0]}x{hw[1]} holds {out_hw[0]}x{out_hw[1]} "
                         f"= {out_hw[0] * out_hw[1]} sliding windows, but the input has "
                         f"L = {n_blocks} (dimension 2 of shape {tuple(cols.shape)})")
    y = Fold.apply(cols, image_shape=(n, r // (kh * kw)) + hw, window=window, out_hw=out_hw)
    return y if batched else y.reshape(y.shape[1:])
