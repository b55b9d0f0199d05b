"""Exercise: the backward pass of a convolution, written with loops.

    x: (N, C, H, W)   w: (K, C, kh, kw)   b: (K,)   -> out: (N, K, H', W')
    out[n, k, i, j] = b[k] + sum over c, r, s of
                      x_padded[n, c, i*stride + r, j*stride + s] * w[k, c, r, s]

(cross-correlation, as every framework computes it). Write `backward`: given dout of shape
(N, K, H', W'), return (dx, dw, db). Loops over output positions are fine here: the point is
to see where each gradient comes from. Check it with:

    scratchnet exercise check conv2d_loops

연습 문제: 반복문으로 쓰는 합성곱(convolution)의 역전파.

`backward`를 작성하세요: (N, K, H', W') 모양의 dout을 받아 (dx, dw, db)를 반환합니다. 출력
위치를 도는 반복문이면 충분합니다: 각 기울기가 어디서 오는지 보는 것이 목적입니다. 창(window)이
겹치는 곳에서는 기울기를 누적(+=)합니다.

    scratchnet exercise check conv2d_loops --lang ko
"""
import numpy as np


def forward(x, w, b, stride=1, padding=0):
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    out = np.empty((n, k, ho, wo))
    for i in range(ho):
        for j in range(wo):
            window = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.einsum("nchw,kchw->nk", window, w)
    return out + b[None, :, None, None]


def backward(dout, x, w, b, stride=1, padding=0):
    # Hint: walk the output positions as forward does. Every out[n, k, i, j] read one
    # window of x_padded and all of w[k]; send dout[n, k, i, j] back to both.
    raise NotImplementedError("write the backward pass of the convolution")
