"""Output-size arithmetic of sliding windows, with explanations a student can follow.

For a window of size k (dilation d, so it spans d*(k-1)+1 pixels), stride s and padding p on
each side, an input of size n gives

    out = floor((n + 2p - d*(k-1) - 1) / s) + 1            (ceil instead of floor with ceil_mode)

which is the slides' (W - K + 2P)/S + 1 for d = 1.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def ntuple(v, n, name="value", op=None, minimum=None):
    """n ints from an int (repeated) or an n-sequence, as PyTorch's _ntuple: the one
    normaliser of kernel sizes, strides, paddings and output sizes. Like torch it refuses
    non-integers (2.5, 2.0, True). Errors start with `op` and name the argument."""
    where = f"{op}: " if op else ""
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            kind = "a pair" if n == 2 else f"a {n}-tuple"
            raise ValueError(f"{where}{name} must be an int or {kind}, got {v!r}")
        vals = tuple(v)
    else:
        vals = (v,) * n
    if not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in vals):
        raise TypeError(f"{where}{name} must be integers, got {v!r}")
    out = tuple(int(a) for a in vals)
    if minimum is not None and min(out) < minimum:
        raise ValueError(f"{where}{name} must be >= {minimum}, got {v!r}")
    return out


def pair(v, name="value", op=None, minimum=None):
    """(a, b) from an int or a 2-sequence (PyTorch's _pair); see ntuple."""
    return ntuple(v, 2, name, op, minimum)


def describe_window(op, k, s=(1, 1), p=(0, 0), d=(1, 1), *, channels=None, groups=1,
                    output_padding=None, ceil_mode=False, stride_always=False):
    """How errors name a sliding-window layer: 'conv2d(3->16, k=5x3, s=2, p=1)',
    'max_pool2d(k=3, s=2)'. Equal values show as one number, different ones as the slides'
    5x3. Defaults (stride 1, no padding, dilation 1, one group) are left out, except the
    stride of a pooling layer (stride_always), whose default is the kernel size.
    channels: (in, out) for a convolution."""
    def show(v):
        if isinstance(v, str):
            return repr(v)
        v = tuple(v)
        return str(v[0]) if len(set(v)) == 1 else "x".join(str(a) for a in v)

    parts = [f"{channels[0]}->{channels[1]}"] if channels is not None else []
    parts.append(f"k={show(k)}")
    if stride_always or any(a != 1 for a in s):
        parts.append(f"s={show(s)}")
    if isinstance(p, str) or any(p):
        parts.append(f"p={show(p)}")
    if output_padding is not None and any(output_padding):
        parts.append(f"output_padding={show(output_padding)}")
    if any(a != 1 for a in d):
        parts.append(f"d={show(d)}")
    if groups != 1:
        parts.append(f"groups={groups}")
    if ceil_mode:
        parts.append("ceil_mode=True")
    return f"{op}({', '.join(parts)})"


def normalize_axis(axis, ndim, op):
    """A tuple of non-negative axes, or None for all; errors name the op and the rank."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        ax = int(ax)
        if not -max(ndim, 1) <= ax < max(ndim, 1):
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor with {ndim} "
                             f"dimension(s) (valid: {-max(ndim, 1)} to {max(ndim, 1) - 1})")
        out.append(ax % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: axis {axis} names a dimension twice")
    return tuple(out)


def window_formula(n, k, s, p, d=1):
    """The formula with the numbers filled in, e.g. '(7 + 2*0 - 3)/3 + 1 = 2.33'."""
    span = d * (k - 1) + 1
    exact = (n + 2 * p - span) / s + 1
    kterm = f"{k}" if d == 1 else f"{d}*({k}-1) - 1"
    return f"({n} + 2*{p} - {kterm})/{s} + 1 = {exact:.3g}"


def conv_output_size(n, k, s=1, p=0, d=1, ceil_mode=False, *, layer="conv", strict=False):
    """Output size of one spatial dimension.

    With strict=True a stride that does not tile the input exactly is an error (the slides'
    "stride 3 does not fit a 7x7 input with a 3x3 filter"); PyTorch itself floors silently,
    which is the default here. An output below 1 is always an error.
    """
    span = d * (k - 1) + 1
    if n + 2 * p < span:
        raise ValueError(f"{layer}: the window spans {span} pixels but the padded input is "
                         f"only {n} + 2*{p} = {n + 2 * p}: {window_formula(n, k, s, p, d)}")
    q = (n + 2 * p - span) / s
    out = (math.ceil(q) if ceil_mode else math.floor(q)) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        # PyTorch: the last window must start inside the input or its left padding
        out -= 1
    if strict and (n + 2 * p - span) % s:
        raise ValueError(f"{layer}: a {n}-pixel input does not tile: "
                         f"{window_formula(n, k, s, p, d)}")
    if out < 1:
        raise ValueError(f"{layer}: output size {out} < 1: {window_formula(n, k, s, p, d)}")
    return out


def transpose_window_formula(n, k, s, p, output_padding=0, d=1):
    """A transposed convolution's size with the numbers filled in,
    e.g. '(2 - 1)*2 - 2*1 + 1*(3 - 1) + 1 + 1 = 4'."""
    out = (n - 1) * s - 2 * p + d * (k - 1) + output_padding + 1
    return f"({n} - 1)*{s} - 2*{p} + {d}*({k} - 1) + {output_padding} + 1 = {out}"


def conv_transpose_output_size(n, k, s=1, p=0, output_padding=0, d=1, *,
                               layer="conv_transpose"):
    """Output size of one spatial dimension of a transposed convolution:

        out = (n - 1)*s - 2p + d*(k - 1) + output_padding + 1

    the largest input a stride-s convolution maps to n outputs, minus the padding it would
    have added, plus output_padding. As in PyTorch, output_padding must be smaller than the
    stride or the dilation: it only picks one of the input sizes the convolution would map
    to the same n.
    """
    if output_padding >= s and output_padding >= d:
        raise ValueError(f"{layer}: output_padding must be smaller than the stride ({s}) or "
                         f"the dilation ({d}), got {output_padding}")
    out = (n - 1) * s - 2 * p + d * (k - 1) + output_padding + 1
    if out < 1:
        formula = transpose_window_formula(n, k, s, p, output_padding, d)
        raise ValueError(f"{layer}: output size {out} < 1: (n - 1)*s - 2p + d*(k - 1) + "
                         f"output_padding + 1 = {formula}")
    return out


def explain_conv_output_size(n, k, s=1, p=0, d=1):
    """The slides' formula worked out for one spatial dimension, as text.

    >>> print(explain_conv_output_size(7, 3, s=2))
    output = (W - K + 2P)/S + 1 with W=7, K=3, P=0, S=2
           = (7 - 3 + 2*0)/2 + 1
           = 4/2 + 1 = 3
    """
    lines = []
    kk = d * (k - 1) + 1
    if d == 1:
        lines.append(f"output = (W - K + 2P)/S + 1 with W={n}, K={k}, P={p}, S={s}")
    else:
        lines.append(f"dilation {d} spreads the {k} taps over K = {d}*({k} - 1) + 1 = {kk} "
                     f"pixels")
        lines.append(f"output = (W - K + 2P)/S + 1 with W={n}, K={kk}, P={p}, S={s}")
    num = n - kk + 2 * p
    lines.append(f"       = ({n} - {kk} + 2*{p})/{s} + 1")
    if num < 0:
        lines.append(f"       = {num}/{s} + 1: the {kk}-pixel window does not fit in the "
                     f"{n + 2 * p}-pixel padded input, so there is no output")
        return "\n".join(lines)
    out = num // s + 1
    if num % s:
        lines.append(f"       = floor({num}/{s}) + 1 = {out}   ({num}/{s} is not whole: the "
                     f"last {num % s} pixel(s) are never covered, PyTorch rounds down)")
    else:
        lines.append(f"       = {num}/{s} + 1 = {out}")
    return "\n".join(lines)


def explain_conv_transpose_output_size(n, k, s=1, p=0, output_padding=0, d=1):
    """The transposed convolution's output size worked out, as text.

    >>> print(explain_conv_transpose_output_size(2, 3, s=2, p=1, output_padding=1))
    output = (W - 1)*S - 2P + D*(K - 1) + output_padding + 1 with W=2, K=3, S=2, P=1, D=1
           = (2 - 1)*2 - 2*1 + 1*(3 - 1) + 1 + 1 = 4
    each of the 2 input pixels places a 3-pixel copy of the kernel, 2 apart: 5 pixels;
    trimming P=1 from both ends leaves 3, output_padding adds 1 at the end: 4
    """
    out = (n - 1) * s - 2 * p + d * (k - 1) + output_padding + 1
    kk = d * (k - 1) + 1
    full = (n - 1) * s + kk
    lines = [f"output = (W - 1)*S - 2P + D*(K - 1) + output_padding + 1 with W={n}, K={k}, "
             f"S={s}, P={p}, D={d}",
             f"       = {transpose_window_formula(n, k, s, p, output_padding, d)}",
             f"each of the {n} input pixels places a {kk}-pixel copy of the kernel, {s} apart: "
             f"{full} pixels;"]
    tail = f"trimming P={p} from both ends leaves {full - 2 * p}"
    if output_padding:
        tail += f", output_padding adds {output_padding} at the end: {out}"
    lines.append(tail)
    if out < 1:
        lines.append("an output below 1 pixel: the padding trims more than the kernel copies "
                     "cover")
    return "\n".join(lines)
