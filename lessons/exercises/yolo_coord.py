"""Exercise: the gradient of YOLO v1's coordinate loss (decks 001 and 003: YOLO's grid).

    pred: (N, S, S, B, 4) the B predicted boxes of each grid cell, [x, y, w, h], w and h > 0
    target: (N, S, S, 4) the ground-truth box of each cell (ignored where there is none)
    obj: (N, S, S) 1 where an object's centre falls in the cell, else 0
    resp: (N, S, S) which of the B predictors is responsible (the one of highest IoU)
    loss = lambda_coord / N * sum over cells with an object, responsible predictor only, of
           (x - x_t)^2 + (y - y_t)^2 + (sqrt(w) - sqrt(w_t))^2 + (sqrt(h) - sqrt(h_t))^2

Write `backward`: given dout (a scalar), return dpred of shape (N, S, S, B, 4). Check it with:

    scratchnet exercise check yolo_coord

연습 문제: YOLO v1 좌표 손실의 기울기 (deck 001, 003의 YOLO 격자).

`backward`를 작성하세요: dout(스칼라)을 받아 (N, S, S, B, 4) 모양의 dpred를 반환합니다. 너비와
높이는 제곱근을 거치고, lambda_coord를 곱하며, 물체가 있는 칸의 책임(responsible) 예측기만
기울기를 받습니다.

    scratchnet exercise check yolo_coord --lang ko
"""
import numpy as np


def forward(pred, target, obj, resp, lambda_coord=5.0):
    b = pred.shape[3]
    mask = obj[..., None] * (np.arange(b) == resp[..., None])       # (N, S, S, B)
    xy = pred[..., :2] - target[..., None, :2]
    wh = np.sqrt(pred[..., 2:]) - np.sqrt(target[..., None, 2:])
    per_box = (xy ** 2).sum(axis=-1) + (wh ** 2).sum(axis=-1)
    return lambda_coord * (per_box * mask).sum() / len(pred)


def backward(dout, pred, target, obj, resp, lambda_coord=5.0):
    raise NotImplementedError("write the gradient of the YOLO coordinate loss")
