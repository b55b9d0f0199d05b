"""A convolution is a matrix: the dense matrix of conv2d, for lessons.

Convolving one image is a linear map of its pixels, so it has a matrix C with

    conv2d(x, weight).ravel() == C @ x.ravel()          C: (K*H'*W', C_in*H*W)

Each row of C is one output pixel; it holds the kernel's weights at the input pixels that
output's window covers and zeros everywhere else (a sparse, banded matrix: the same weights
repeat in every row, shifted, which is "parameter sharing" written as linear algebra).

The transposed convolution is then literally the transposed matrix: conv_transpose2d(y,
weight).ravel() == C.T @ y.ravel(). Deck 004 shows the 4x4-input, 3x3-kernel case, where C is
4x16 and C.T is 16x4.

    >>> import scratchnet as sn
    >>> w = sn.randn(1, 1, 3, 3)
    >>> C = sn.conv_matrix(w, (1, 4, 4))
    >>> C.shape
    (4, 16)

This is for understanding, not speed: C has (H'*W') * (H*W) entries.
"""
from __future__ import annotations

import numpy as np

from .autograd.tensor import Tensor
from .shapes import conv_output_size, pair


def conv_matrix(weight, input_shape, stride=1, padding=0, dilation=1):
    """The dense matrix of a convolution on one image.

    weight: (K, C, kh, kw), or (kh, kw) for one channel in and out; input_shape: (C, H, W),
    or (H, W) for one channel. stride, padding, dilation: ints or (h, w) pairs, as conv2d.
    Returns a Tensor C of shape (K*H'*W', C*H*W), weight's dtype, with
    conv2d(x[None], weight)[0].ravel() == C @ x.ravel() for every x of input_shape.
    """
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if w.ndim == 2:
        w = w[None, None]
    if w.ndim != 4:
        raise ValueError(f"conv_matrix: the weight must be (K, C, kh, kw) or (kh, kw), got "
                         f"shape {w.shape}")
    if w.dtype.kind != "f":
        w = w.astype(np.float32)
    shape = tuple(int(v) for v in input_shape)
    if len(shape) == 2:
        shape = (1,) + shape
    if len(shape) != 3:
        raise ValueError(f"conv_matrix: input_shape must be (C, H, W) or (H, W), got "
                         f"{tuple(input_shape)}")
    K, C, kh, kw = w.shape
    C_in, H, W = shape
    if C_in != C:
        raise ValueError(f"conv_matrix: the weight {w.shape} expects {C} input channels, "
                         f"input_shape {shape} has {C_in}")
    (sh, sw), (ph, pw), (dh, dw) = (pair(stride, "stride"), pair(padding, "padding"),
                                    pair(dilation, "dilation"))
    layer = f"conv_matrix(k={kh}x{kw}, s={sh}x{sw}, p={ph}x{pw})"
    out_h = conv_output_size(H, kh, sh, ph, dh, layer=f"{layer} height")
    out_w = conv_output_size(W, kw, sw, pw, dw, layer=f"{layer} width")

    # rows: (k, y, t) output pixels; columns: (c, h, w) input pixels
    m = np.zeros((K, out_h, out_w, C, H, W), dtype=w.dtype)
    for y in range(out_h):
        for t in range(out_w):
            for i in range(kh):
                for j in range(kw):
                    h, v = y * sh - ph + i * dh, t * sw - pw + j * dw
                    if 0 <= h < H and 0 <= v < W:    # taps in the padding multiply a zero
                        m[:, y, t, :, h, v] = w[:, :, i, j]
    return Tensor(m.reshape(K * out_h * out_w, C * H * W))
