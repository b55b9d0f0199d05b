"""Exercise: the backward pass of batch normalisation (training mode).

    mu = x.mean(axis=0); var = x.var(axis=0)          (biased: divide by N)
    x_hat = (x - mu) / sqrt(var + eps)
    out = gamma * x_hat + beta                         x: (N, D), gamma, beta: (D,)

Write `backward`: given dout (N, D), return (dx, dgamma, dbeta). Remember that mu and var are
computed from x. Check it with:

    scratchnet exercise check batch_norm

연습 문제: 배치 정규화(batch normalization, 학습 모드)의 역전파.

`backward`를 작성하세요: (N, D) 모양의 dout을 받아 (dx, dgamma, dbeta)를 반환합니다.
mu와 var도 x로부터 계산된다는 것을 잊지 마세요.

    scratchnet exercise check batch_norm --lang ko
"""
import numpy as np


def forward(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def backward(dout, x, gamma, beta, eps=1e-5):
    raise NotImplementedError("write the backward pass of batch norm")
