"""Exercise: the backward pass of max pooling, with windows that may overlap.

    x: (N, C, H, W) -> out: (N, C, H', W'), out[n, c, i, j] = max of the kernel_size x
    kernel_size window of x starting at (i*stride, j*stride); no padding.

Write `backward`: given dout (N, C, H', W'), return dx (N, C, H, W). The gradient of a max
goes to the element that won (the first one in row-major order on a tie). Check it with:

    scratchnet exercise check max_pool

연습 문제: 창이 겹칠 수 있는 최대 풀링(max pooling)의 역전파.

`backward`를 작성하세요: (N, C, H', W') 모양의 dout을 받아 (N, C, H, W) 모양의 dx를
반환합니다. 최댓값의 기울기는 이긴 원소로 갑니다 (같은 값이 여럿이면 행 우선 순서로 첫 번째).

    scratchnet exercise check max_pool --lang ko
"""
import numpy as np


def forward(x, kernel_size=2, stride=2):
    n, c, h, w = x.shape
    ho = (h - kernel_size) // stride + 1
    wo = (w - kernel_size) // stride + 1
    out = np.empty((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            window = x[:, :, i * stride:i * stride + kernel_size,
                       j * stride:j * stride + kernel_size]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


def backward(dout, x, kernel_size=2, stride=2):
    raise NotImplementedError("write the backward pass of max pooling")
