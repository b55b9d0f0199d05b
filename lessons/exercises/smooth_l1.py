"""Exercise: the gradient of Fast R-CNN's box-regression loss (smooth L1).

    x = pred - target                     pred, target: (R, 4) box offsets of R sampled RoIs
    smooth_l1(x) = 0.5 * x**2 / beta      where |x| < beta
                   |x| - 0.5 * beta       elsewhere
    loss = sum of smooth_l1 over the foreground RoIs (labels > 0) and their 4 offsets, / R

(torchvision's fastrcnn_loss divides by all R sampled RoIs; background RoIs have no box.)
Write `backward`: given dout (a scalar), return dpred of shape (R, 4). Check it with:

    scratchnet exercise check smooth_l1

연습 문제: Fast R-CNN 박스 회귀 손실(smooth L1)의 기울기.

`backward`를 작성하세요: dout(스칼라)을 받아 (R, 4) 모양의 dpred를 반환합니다. |x| = beta에서
두 식이 바뀌고, 배경 RoI(레이블 0)는 손실에 들어가지 않으며, 손실은 샘플링한 RoI 전체 수 R로
나눕니다 (CNN 응용 사례, deck 000의 Fast R-CNN 손실).

    scratchnet exercise check smooth_l1 --lang ko
"""
import numpy as np


def forward(pred, target, labels, beta=1.0):
    x = pred - target
    ax = np.abs(x)
    per_element = np.where(ax < beta, 0.5 * x ** 2 / beta, ax - 0.5 * beta)
    return per_element[labels > 0].sum() / len(pred)


def backward(dout, pred, target, labels, beta=1.0):
    raise NotImplementedError("write the gradient of the smooth L1 box loss")
