"""Exercise: the backward pass of a fully connected layer.

    out = x @ w.T + b        x: (N, D)   w: (M, D) (PyTorch's layout: out, in)   b: (M,)

Write `backward`: given dout = dL/dout of shape (N, M), return (dx, dw, db), each with the
shape of its input. Check it with:

    scratchnet exercise check linear

연습 문제: 완전 연결층(fully connected layer)의 역전파(backward pass).

`backward`를 작성하세요: (N, M) 모양의 dout = dL/dout을 받아 (dx, dw, db)를 반환합니다.
각 기울기(gradient)는 자기 입력과 같은 모양입니다. w는 PyTorch의 배치 (out, in)입니다.

    scratchnet exercise check linear --lang ko
"""
import numpy as np


def forward(x, w, b):
    return x @ w.T + b


def backward(dout, x, w, b):
    # dx: each x[n] reached out[n] through w       -> (N, D)
    # dw: every example contributed to every weight -> (M, D)
    # db: b was added to every row                  -> (M,)
    raise NotImplementedError("write the backward pass of the linear layer")
