"""Output-size arithmetic of sliding windows, with explanations a student can follow.

For a window of size k (dilation d, so it spans d*(k-1)+1 pixels), stride s and padding p on
each side, an input of size n gives

    out = floor((n + 2p - d*(k-1) - 1) / s) + 1            (ceil instead of floor with ceil_mode)

which is the slides' (W - K + 2P)/S + 1 for d = 1.
"""
from __future__ import annotations

import math


def pair(v, name="value"):
    """(a, b) from an int or a 2-sequence, as PyTorch's _pair."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


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
