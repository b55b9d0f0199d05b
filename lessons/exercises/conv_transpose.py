"""Exercise: the backward pass of a transposed convolution.

    x: (N, Cin, H, W)   w: (Cin, Cout, k, k) (PyTorch's layout)   -> out: (N, Cout, H', W')
    H' = (H - 1) * stride - 2 * padding + k
    Every input pixel x[n, ci, i, j] adds x[n, ci, i, j] * w[ci] into the output window at
    (i*stride - padding, j*stride - padding); overlapping windows sum.

Write `backward`: given dout (N, Cout, H', W'), return (dx, dw). Check it with:

    scratchnet exercise check conv_transpose

연습 문제: 전치 합성곱(transposed convolution)의 역전파.

`backward`를 작성하세요: (N, Cout, H', W') 모양의 dout을 받아 (dx, dw)를 반환합니다.
순전파에서 겹치는 창은 더해졌습니다.

    scratchnet exercise check conv_transpose --lang ko
"""
import numpy as np


def forward(x, w, stride=1, padding=0):
    n, cin, h, wd = x.shape
    _, cout, k, _ = w.shape
    full = np.zeros((n, cout, (h - 1) * stride + k, (wd - 1) * stride + k))
    for i in range(h):
        for j in range(wd):
            full[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += np.einsum(
                "nc,cokl->nokl", x[:, :, i, j], w)
    ho, wo = full.shape[2] - 2 * padding, full.shape[3] - 2 * padding
    return full[:, :, padding:padding + ho, padding:padding + wo]


def backward(dout, x, w, stride=1, padding=0):
    raise NotImplementedError("write the backward pass of the transposed convolution")
