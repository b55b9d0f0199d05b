"""Exercise: the gradient of the triplet loss (FaceNet; deck 002's face recognition).

    a, p, n: (N, D) embeddings of an anchor, a positive (same person), a negative (another)
    loss = mean over n of max(||a - p||^2 - ||a - n||^2 + alpha, 0)

Write `backward`: given dout (a scalar), return (da, dp, dn), each (N, D). Check it with:

    scratchnet exercise check triplet_loss

연습 문제: 삼중쌍 손실(triplet loss)의 기울기 (FaceNet; deck 002의 얼굴 인식).

`backward`를 작성하세요: dout(스칼라)을 받아 (da, dp, dn)을 반환합니다 (각각 (N, D)). 힌지
max(., 0)가 0인 쉬운 삼중쌍에는 기울기가 없습니다.

    scratchnet exercise check triplet_loss --lang ko
"""
import numpy as np


def forward(a, p, n, alpha=0.2):
    gap = ((a - p) ** 2).sum(axis=1) - ((a - n) ** 2).sum(axis=1) + alpha
    return np.maximum(gap, 0).mean()


def backward(dout, a, p, n, alpha=0.2):
    raise NotImplementedError("write the gradient of the triplet loss")
