"""Exercise: the gradient of the Dice loss (U-Net style segmentation).

    p: (N, H, W) predicted foreground probabilities   g: (N, H, W) target mask, 0 or 1
    per image: I = sum p * g,  D = sum p + sum g + eps
    loss = mean over images of 1 - (2 I + eps) / D

Write `backward`: given dout (a scalar), return dp of shape (N, H, W). The denominator
depends on p too. Check it with:

    scratchnet exercise check dice_loss

연습 문제: Dice 손실(U-Net 방식의 분할)의 기울기.

`backward`를 작성하세요: dout(스칼라)을 받아 (N, H, W) 모양의 dp를 반환합니다. 분모도 p에
의존합니다 (몫의 미분법). 합은 이미지마다 따로 구합니다.

    scratchnet exercise check dice_loss --lang ko
"""
import numpy as np


def forward(p, g, eps=1.0):
    inter = (p * g).sum(axis=(1, 2))
    denom = p.sum(axis=(1, 2)) + g.sum(axis=(1, 2)) + eps
    return (1.0 - (2.0 * inter + eps) / denom).mean()


def backward(dout, p, g, eps=1.0):
    raise NotImplementedError("write the gradient of the Dice loss")
