"""Pooling and unpooling, under torch.nn.functional's names, argument order and defaults.

    max_pool2d           (N, C, H, W) -> (N, C, H', W')  [, indices (N, C, H', W') int64]
    avg_pool2d           (N, C, H, W) -> (N, C, H', W')
    adaptive_avg_pool2d  (N, C, H, W) -> (N, C, out_h, out_w)
    adaptive_max_pool2d  (N, C, H, W) -> (N, C, out_h, out_w)  [, indices]
    max_unpool2d         (N, C, H, W) + indices -> (N, C, H_out, W_out)
    max_pool1d           (N, C, L) -> (N, C, L')  [, indices]
    min_pool2d           -max_pool2d(-x): the course's min pooling; PyTorch has none

A 3-D input (C, H, W) is one image without the batch dimension, as in PyTorch.
H' = floor((H + 2p - d*(k-1) - 1)/s + 1) (ceil with ceil_mode), see scratchnet.shapes.

Max pooling remembers, for every output, the flat offset h*W + w of the winning pixel in its
(H, W) plane (PyTorch's indices, bit for bit). Its backward sends each output gradient to that
pixel; max unpooling writes values to those offsets, and its backward reads them back.
The numba kernels are in scratchnet/kernels/pool.py and unpool.py; everything they are given
is checked here first.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, register
from ..kernels import pool as K
from ..kernels import unpool as KU
from ..shapes import conv_output_size, describe_window, ntuple, pair
from .methods import as_tensor

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _planes(x, op):
    """x as a contiguous (P, H, W) stack of planes, and its leading dims ((N, C) or (C,))."""
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 4-D (N, C, H, W) or 3-D (C, H, W) input, got a "
                         f"{x.ndim}-D input of shape {x.shape}")
    if x.dtype not in _FLOATS:
        raise TypeError(f"{op}: expected a float32 or float64 input, got {x.dtype}; "
                        f"call .float() first")
    lead, (H, W) = x.shape[:-2], x.shape[-2:]
    if H == 0 or W == 0:
        raise ValueError(f"{op}: the input planes are empty ({H}x{W})")
    return np.ascontiguousarray(x).reshape(int(np.prod(lead)), H, W), lead


def _positive(v, name, op, minimum=1):
    try:
        v = pair(v, name)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{op}: {e}") from None
    if min(v) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v if v[0] != v[1] else v[0]}")
    return v


def _window_args(op, kernel_size, stride, padding, dilation=1):
    """(k, s, p, d) as pairs; stride None (or empty) means the kernel size, as in PyTorch."""
    k = _positive(kernel_size, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) \
        else _positive(stride, "stride", op)
    p = _positive(padding, "padding", op, minimum=0)
    d = _positive(dilation, "dilation", op)
    return k, s, p, d


def _output_hw(layer, H, W, k, s, p, d, ceil_mode):
    """(H', W') of a pooling window, after PyTorch's rule padding <= kernel_size // 2."""
    for dim, kk, pp in (("height", k[0], p[0]), ("width", k[1], p[1])):
        if pp > kk // 2:
            raise ValueError(f"{layer}: {dim} padding must be at most half the kernel "
                             f"({kk} // 2 = {kk // 2}), got {pp}: wider padding could give "
                             f"windows that hold only padding")
    out_h = conv_output_size(H, k[0], s[0], p[0], d[0], ceil_mode, layer=f"{layer} height")
    out_w = conv_output_size(W, k[1], s[1], p[1], d[1], ceil_mode, layer=f"{layer} width")
    return out_h, out_w


def _check_windows_touch_input(layer, H, W, out_hw, k, s, p, d):
    """Every window must have a tap on a real pixel. Windows that start at or after pixel 0
    always do; one that starts in the left padding with a large dilation can step over a
    small input entirely (PyTorch then returns -inf and an index outside the plane)."""
    for dim, n, out, kk, ss, pp, dd in zip(("height", "width"), (H, W), out_hw, k, s, p, d):
        o = 0
        while o < out and o * ss - pp < 0:
            start = o * ss - pp
            j = -(start // dd)  # the first tap at or after pixel 0
            if j > kk - 1 or start + j * dd >= n:
                taps = ", ".join(str(start + i * dd) for i in range(kk))
                raise ValueError(f"{layer}: output {dim} position {o} has taps {taps}, none "
                                 f"inside the {n}-pixel input, so it would see only "
                                 f"padding; use less padding or dilation")
            o += 1


@register("max_pool2d")
class MaxPool2d(Function):
    """Max over sliding windows; indices are flat offsets h*W + w into each input plane.

    (N, C, H, W) -> out (N, C, H', W') [, indices (N, C, H', W') int64]
    `op` is the name errors give the layer (max_pool1d runs through here too).
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                return_indices=False, op="max_pool2d"):
        k, s, p, d = _window_args(op, kernel_size, stride, padding, dilation)
        layer = describe_window(op, k, s, p, d, ceil_mode=ceil_mode, stride_always=True)
        planes, lead = _planes(x, layer)
        H, W = planes.shape[1:]
        out_h, out_w = _output_hw(layer, H, W, k, s, p, d, ceil_mode)
        _check_windows_touch_input(layer, H, W, (out_h, out_w), k, s, p, d)
        # a row at a time vectorises for width strides 1 and 2; wider strides read scattered
        # pixels either way, and the window-by-window definition is then faster
        kernel = K.max_pool2d_forward if s[1] <= 2 else K.max_pool2d_window_by_window
        out, indices = kernel(planes, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1],
                              out_h, out_w)
        ctx.save_for_backward(indices)
        ctx.in_hw = (H, W)
        out = out.reshape(*lead, out_h, out_w)
        if not return_indices:
            return out
        indices = indices.reshape(out.shape)
        ctx.mark_non_differentiable(indices)
        return out, indices

    @staticmethod
    def backward(ctx, grad, *unused):
        (indices,) = ctx.saved_arrays
        H, W = ctx.in_hw
        g = np.ascontiguousarray(grad).reshape(indices.shape)
        return K.max_pool2d_backward(g, indices, H, W).reshape(*grad.shape[:-2], H, W)


@register("avg_pool2d")
class AvgPool2d(Function):
    """Mean over sliding windows.

    (N, C, H, W) -> (N, C, H', W'). The divisor: divisor_override if given; else the window
    size k_h*k_w (clipped to the padded input) with count_include_pad, else the number of
    real pixels under the window.
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True, divisor_override=None):
        k, s, p, _ = _window_args("avg_pool2d", kernel_size, stride, padding)
        layer = describe_window("avg_pool2d", k, s, p, ceil_mode=ceil_mode,
                                stride_always=True)
        if divisor_override is not None:
            if isinstance(divisor_override, bool) or not isinstance(
                    divisor_override, (int, np.integer)):
                # torch: "avg_pool2d(): argument 'divisor_override' must be int"
                raise TypeError(f"{layer}: divisor_override must be an int, got "
                                f"{divisor_override!r}")
            if divisor_override < 1:
                raise ValueError(f"{layer}: divisor_override must be a positive integer, got "
                                 f"{divisor_override}")
        planes, lead = _planes(x, layer)
        H, W = planes.shape[1:]
        out_h, out_w = _output_hw(layer, H, W, k, s, p, (1, 1), ceil_mode)
        divisor = 0 if divisor_override is None else int(divisor_override)
        ctx.args = (H, W, k[0], k[1], s[0], s[1], p[0], p[1], bool(count_include_pad), divisor)
        # windows that tile the plane (LeNet's 2x2, stride 2) all lie inside and share one
        # divisor: a kernel without the clipping (the same sums, 3-4x faster)
        ctx.tiled = (k == s and p == (0, 0) and out_h * k[0] <= H and out_w * k[1] <= W)
        if ctx.tiled:
            n = divisor or k[0] * k[1]
            out = K.avg_pool2d_tiled_forward(planes, k[0], k[1], out_h, out_w, n)
        else:
            out = K.avg_pool2d_forward(planes, k[0], k[1], s[0], s[1], p[0], p[1], out_h,
                                       out_w, bool(count_include_pad), divisor)
        return out.reshape(*lead, out_h, out_w)

    @staticmethod
    def backward(ctx, grad):
        H, W = ctx.args[:2]
        g = np.ascontiguousarray(grad).reshape(-1, *grad.shape[-2:])
        if ctx.tiled:
            kh, kw, divisor = ctx.args[2], ctx.args[3], ctx.args[9]
            g_in = K.avg_pool2d_tiled_backward(g, H, W, kh, kw, divisor or kh * kw)
        else:
            g_in = K.avg_pool2d_backward(g, *ctx.args)
        return g_in.reshape(*grad.shape[:-2], H, W)


def _adaptive_size(op, output_size, H, W):
    """(out_h, out_w) from an int, a pair, or a pair holding None (keep that input size)."""
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
        size = (H if output_size[0] is None else output_size[0],
                W if output_size[1] is None else output_size[1])
    elif output_size is None:
        size = (H, W)
    else:
        size = (output_size, output_size)
    size = tuple(int(v) for v in size)
    if min(size) < 1:
        raise ValueError(f"{op}: output_size must be >= 1 in both dimensions, got "
                         f"{output_size!r}")
    return size


@register("adaptive_avg_pool2d")
class AdaptiveAvgPool2d(Function):
    """Mean over output_size bins that cover the input: bin i spans
    [floor(i*H/out), ceil((i+1)*H/out)).

    (N, C, H, W) -> (N, C, out_h, out_w)
    """

    @staticmethod
    def forward(ctx, x, output_size):
        planes, lead = _planes(x, "adaptive_avg_pool2d")
        H, W = planes.shape[1:]
        out_h, out_w = _adaptive_size(f"adaptive_avg_pool2d(output_size={output_size!r})",
                                      output_size, H, W)
        ctx.in_hw = (H, W)
        return K.adaptive_avg_pool2d_forward(planes, out_h, out_w).reshape(*lead, out_h, out_w)

    @staticmethod
    def backward(ctx, grad):
        H, W = ctx.in_hw
        g = np.ascontiguousarray(grad).reshape(-1, *grad.shape[-2:])
        return K.adaptive_avg_pool2d_backward(g, H, W).reshape(*grad.shape[:-2], H, W)


@register("adaptive_max_pool2d")
class AdaptiveMaxPool2d(Function):
    """Max over adaptive bins (as adaptive_avg_pool2d's), with max_pool2d's indices.

    (N, C, H, W) -> out (N, C, out_h, out_w) [, indices (N, C, out_h, out_w) int64]
    """

    @staticmethod
    def forward(ctx, x, output_size, return_indices=False):
        planes, lead = _planes(x, "adaptive_max_pool2d")
        H, W = planes.shape[1:]
        out_h, out_w = _adaptive_size(f"adaptive_max_pool2d(output_size={output_size!r})",
                                      output_size, H, W)
        out, indices = K.adaptive_max_pool2d_forward(planes, out_h, out_w)
        ctx.save_for_backward(indices)
        ctx.in_hw = (H, W)
        out = out.reshape(*lead, out_h, out_w)
        if not return_indices:
            return out
        indices = indices.reshape(out.shape)
        ctx.mark_non_differentiable(indices)
        return out, indices

    backward = staticmethod(MaxPool2d.backward)


def _unpool_size(layer, H, W, k, s, p, output_size):
    """PyTorch's rule: default (H-1)*s - 2p + k; an explicit size must lie strictly within one
    stride of it (the sizes a max_pool2d with these settings can have come from)."""
    default = [(n - 1) * ss - 2 * pp + kk for n, kk, ss, pp in zip((H, W), k, s, p)]
    if output_size is None:
        size = default
    else:
        size = [int(v) for v in output_size]
        if len(size) == 4:
            size = size[2:]
        if len(size) != 2:
            raise ValueError(f"{layer}: output_size must be (H_out, W_out) or "
                             f"(N, C, H_out, W_out), got {tuple(output_size)}")
        for dim, n, want, got, kk, ss, pp in zip(("height", "width"), (H, W), default, size,
                                                  k, s, p):
            if not want - ss < got < want + ss:
                raise ValueError(
                    f"{layer}: output_size {tuple(size)} is not possible: the {dim} must be "
                    f"between {want - ss + 1} and {want + ss - 1} (the default "
                    f"({n} - 1)*{ss} - 2*{pp} + {kk} = {want}, within one stride {ss}), "
                    f"got {got}")
    if min(size) < 1:
        raise ValueError(f"{layer}: the output would be {size[0]}x{size[1]}: "
                         f"({H} - 1)*{s[0]} - 2*{p[0]} + {k[0]} = {default[0]} by "
                         f"({W} - 1)*{s[1]} - 2*{p[1]} + {k[1]} = {default[1]}")
    return tuple(size)


@register("max_unpool2d")
class MaxUnpool2d(Function):
    """Inverse of max_pool2d: each value goes to the offset its index names in a zeroed
    output plane; every other pixel is 0.

    input, indices (N, C, H, W) -> (N, C, H_out, W_out), H_out = (H-1)*s - 2p + k by default.
    The backward reads the output gradient at the same offsets.
    """

    @staticmethod
    def forward(ctx, x, indices, kernel_size, stride=None, padding=0, output_size=None):
        k, s, p, _ = _window_args("max_unpool2d", kernel_size, stride, padding)
        layer = describe_window("max_unpool2d", k, s, p, stride_always=True)
        planes, lead = _planes(x, layer)
        if not isinstance(indices, np.ndarray) or indices.dtype.kind not in "iu":
            raise TypeError(f"{layer}: indices must be an integer array (from max_pool2d with "
                            f"return_indices=True), got "
                            f"{getattr(indices, 'dtype', type(indices).__name__)}")
        if indices.shape != x.shape:
            raise ValueError(f"{layer}: indices must have the input's shape {x.shape}, got "
                             f"{indices.shape}")
        H, W = planes.shape[1:]
        out_h, out_w = _unpool_size(layer, H, W, k, s, p, output_size)
        P = planes.shape[0]
        flat_idx = np.ascontiguousarray(indices, dtype=np.int64).reshape(P, H * W)
        out, bad = KU.max_unpool2d_forward(planes.reshape(P, H * W), flat_idx, out_h * out_w)
        if (bad >= 0).any():
            plane = int(np.argmax(bad >= 0))
            where = np.unravel_index(plane * H * W + int(bad[plane]), x.shape)
            value = int(flat_idx[plane, bad[plane]])
            raise ValueError(f"{layer}: index {value} at position {tuple(int(i) for i in where)}"
                             f" is outside the {out_h}x{out_w} output plane (valid: 0 to "
                             f"{out_h * out_w - 1})")
        ctx.save_for_backward(flat_idx)
        ctx.in_shape = x.shape
        return out.reshape(*lead, out_h, out_w)

    @staticmethod
    def backward(ctx, grad):
        (flat_idx,) = ctx.saved_arrays
        g = np.ascontiguousarray(grad).reshape(flat_idx.shape[0],
                                               grad.shape[-2] * grad.shape[-1])
        return KU.max_unpool2d_backward(g, flat_idx).reshape(ctx.in_shape), None


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling, as torch.nn.functional.max_pool2d.

    (N, C, H, W) -> (N, C, H', W'); with return_indices also the int64 indices of the maxima
    (flat offsets h*W + w in each input plane), which max_unpool2d takes. Padding acts as
    -inf, ties go to the first pixel in row-major window order, a NaN in a window wins.
    """
    return MaxPool2d.apply(as_tensor(input), kernel_size=kernel_size, stride=stride,
                           padding=padding, dilation=dilation, ceil_mode=ceil_mode,
                           return_indices=return_indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling, as torch.nn.functional.max_pool1d: (N, C, L) -> (N, C, L').

    Runs max_pool2d on (N, C, 1, L) with a 1 x k window; its indices are offsets into L."""
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise ValueError(f"max_pool1d: expected a 3-D (N, C, L) or 2-D (C, L) input, got a "
                         f"{x.ndim}-D input of shape {x.shape}")

    def as_1x(v, name, fill):
        # a 1-D window is a 2-D window of height 1: (fill, v)
        return (fill,) + ntuple(v, 1, name, "max_pool1d")

    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    res = MaxPool2d.apply(x.unsqueeze(-2), kernel_size=as_1x(kernel_size, "kernel_size", 1),
                          stride=None if no_stride else as_1x(stride, "stride", 1),
                          padding=as_1x(padding, "padding", 0),
                          dilation=as_1x(dilation, "dilation", 1), ceil_mode=ceil_mode,
                          return_indices=return_indices, op="max_pool1d")
    if return_indices:
        out, idx = res
        return out.squeeze(-2), idx.squeeze(-2)
    return res.squeeze(-2)


def min_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Min pooling, defined as -max_pool2d(-input) (PyTorch has no min pooling; the course
    shows it). Padding acts as +inf; ties go to the first pixel; the indices point at the
    minima. Same arguments and shapes as max_pool2d."""
    res = max_pool2d(-as_tensor(input), kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)
    if return_indices:
        return -res[0], res[1]
    return -res


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling, as torch.nn.functional.avg_pool2d: (N, C, H, W) -> (N, C, H', W').

    Zero padding counts in the mean with count_include_pad=True (the default); with False
    each window averages only the pixels it covers; divisor_override replaces the divisor."""
    return AvgPool2d.apply(as_tensor(input), kernel_size=kernel_size, stride=stride,
                           padding=padding, ceil_mode=ceil_mode,
                           count_include_pad=count_include_pad,
                           divisor_override=divisor_override)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size: (N, C, H, W) -> (N, C, out_h, out_w).

    output_size: int, pair, or a pair with None to keep that input dimension."""
    return AdaptiveAvgPool2d.apply(as_tensor(input), output_size=output_size)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed output size: (N, C, H, W) -> (N, C, out_h, out_w)
    [, indices as max_pool2d's]."""
    return AdaptiveMaxPool2d.apply(as_tensor(input), output_size=output_size,
                                   return_indices=return_indices)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool2d, as torch.nn.functional.max_unpool2d.

    input, indices: (N, C, H, W) -> (N, C, H_out, W_out), zeros except at the indices.
    H_out = (H - 1)*stride - 2*padding + kernel_size unless output_size picks another size
    within one stride of it (to undo a pooling that floored an odd input size)."""
    return MaxUnpool2d.apply(as_tensor(input), as_tensor(indices), kernel_size=kernel_size,
                             stride=stride,
                             padding=padding, output_size=output_size)
