"""Exercise: the backward pass of ReLU.

    out = max(x, 0)

Write `backward`: given dout (the shape of x), return dx. The derivative at exactly 0 is
taken as 0 (PyTorch's convention). Check it with:

    scratchnet exercise check relu

연습 문제: ReLU의 역전파(backward pass).

`backward`를 작성하세요: x와 같은 모양의 dout을 받아 dx를 반환합니다. 정확히 0에서의 미분은
0으로 둡니다 (PyTorch의 관례).

    scratchnet exercise check relu --lang ko
"""
import numpy as np


def forward(x):
    return np.maximum(x, 0)


def backward(dout, x):
    raise NotImplementedError("write the backward pass of ReLU")
