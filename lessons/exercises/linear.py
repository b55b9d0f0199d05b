"""Exercise: the backward pass of a fully connected layer.

    out = x @ w.T + b        x: (N, D)   w: (M, D) (PyTorch's layout: out, in)   b: (M,)

Write `backward`: given dout = dL/dout of shape (N, M), return (dx, dw, db), each with the
shape of its input. Check it with:

    scratchnet exercise check linear
"""
import numpy as np


def forward(x, w, b):
    return x @ w.T + b


def backward(dout, x, w, b):
    # dx: each x[n] reached out[n] through w       -> (N, D)
    # dw: every example contributed to every weight -> (M, D)
    # db: b was added to every row                  -> (M,)
    raise NotImplementedError("write the backward pass of the linear layer")
