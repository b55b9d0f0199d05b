"""Exercise: the gradient of softmax + cross-entropy with respect to the logits.

    p = softmax(logits, axis=1)                  logits: (N, C), labels: (N,) ints in [0, C)
    loss = mean over n of -log p[n, labels[n]]   a scalar

Write `backward`: given dout (a scalar, the upstream gradient of the loss), return dlogits
of shape (N, C). Compute softmax stably (subtract each row's max). Check it with:

    scratchnet exercise check softmax_cross_entropy

연습 문제: 소프트맥스(softmax) + 교차 엔트로피(cross-entropy)의 로짓(logits)에 대한 기울기.

`backward`를 작성하세요: dout(손실의 상류 기울기, 스칼라)을 받아 (N, C) 모양의 dlogits를
반환합니다. 손실은 배치 평균입니다. 소프트맥스는 안정적으로 계산하세요 (각 행의 최댓값을 뺍니다).

    scratchnet exercise check softmax_cross_entropy --lang ko
"""
import numpy as np


def forward(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


def backward(dout, logits, labels):
    raise NotImplementedError("write the gradient of the mean cross-entropy w.r.t. the logits")
