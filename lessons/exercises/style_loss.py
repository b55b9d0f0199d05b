"""Exercise: the gradient of the style loss of neural style transfer (deck 000, Gatys et al.).

    f: (N, H, W) one layer's features of the generated image, N filters, M = H * W positions
    F = f.reshape(N, M);   G = F @ F.T   (the Gram matrix, N x N)
    a: (N, N) the Gram matrix of the style image at the same layer
    E = 1 / (4 N^2 M^2) * sum over i, j of (G[i, j] - a[i, j])^2

Write `backward`: given dout (a scalar), return df of shape (N, H, W). Check it with:

    scratchnet exercise check style_loss

연습 문제: 신경 스타일 전이(neural style transfer)의 스타일 손실 기울기 (deck 000).

`backward`를 작성하세요: dout(스칼라)을 받아 (N, H, W) 모양의 df를 반환합니다. G = F F^T는 F를
두 번 쓴다는 것, 그리고 정규화 1/(4 N^2 M^2)의 N은 필터 수, M은 위치 수라는 것을 기억하세요.

    scratchnet exercise check style_loss --lang ko
"""
import numpy as np


def forward(f, a):
    n = f.shape[0]
    m = f.shape[1] * f.shape[2]
    fm = f.reshape(n, m)
    g = fm @ fm.T
    return ((g - a) ** 2).sum() / (4.0 * n * n * m * m)


def backward(dout, f, a):
    raise NotImplementedError("write the gradient of the style loss")
