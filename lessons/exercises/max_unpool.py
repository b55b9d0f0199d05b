"""Exercise: the backward pass of max unpooling.

    y: (N, C, h, w), indices: (N, C, h, w) ints from max_pool2d(..., return_indices=True):
    offsets into each (n, c) output plane of size H*W.
    out = zeros (N, C, H, W); out[n, c].flat[indices[n, c, i, j]] = y[n, c, i, j]

Write `backward`: given dout (N, C, H, W), return dy (N, C, h, w). Check it with:

    scratchnet exercise check max_unpool

연습 문제: 최대 언풀링(max unpooling)의 역전파.

`backward`를 작성하세요: (N, C, H, W) 모양의 dout을 받아 (N, C, h, w) 모양의 dy를
반환합니다. 인덱스는 각 (n, c) 출력 평면(plane) 안의 오프셋입니다.

    scratchnet exercise check max_unpool --lang ko
"""
import numpy as np


def forward(y, indices, output_size):
    n, c = y.shape[:2]
    out = np.zeros((n, c, output_size[0] * output_size[1]))
    planes = out.reshape(n * c, -1)
    np.put_along_axis(planes, indices.reshape(n * c, -1), y.reshape(n * c, -1), axis=1)
    return out.reshape(n, c, *output_size)


def backward(dout, y, indices, output_size):
    raise NotImplementedError("write the backward pass of max unpooling")
