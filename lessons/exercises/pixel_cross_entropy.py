"""Exercise: the gradient of pixelwise cross-entropy with ignore_index (segmentation).

    logits: (N, C, H, W)   target: (N, H, W) class indices, or ignore_index (255) for pixels
    that do not count (object borders, unlabelled regions)
    p = softmax(logits, axis=1)
    loss = mean over the counted pixels of -log p[n, target[n, i, j], i, j]

Write `backward`: given dout (a scalar), return dlogits of shape (N, C, H, W). Check it with:

    scratchnet exercise check pixel_cross_entropy

연습 문제: 분할(segmentation)에서 ignore_index가 있는 픽셀별 교차 엔트로피의 기울기.

`backward`를 작성하세요: dout(스칼라)을 받아 (N, C, H, W) 모양의 dlogits를 반환합니다.
무시하는 픽셀은 기울기가 0이고 평균의 개수에도 들어가지 않습니다. 클래스는 축 1입니다.

    scratchnet exercise check pixel_cross_entropy --lang ko
"""
import numpy as np


def forward(logits, target, ignore_index=255):
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    valid = target != ignore_index
    picked = np.take_along_axis(log_p, np.where(valid, target, 0)[:, None], axis=1)[:, 0]
    return -(picked * valid).sum() / valid.sum()


def backward(dout, logits, target, ignore_index=255):
    raise NotImplementedError("write the gradient of the pixelwise cross-entropy")
