"""Exercise: the gradients of a GAN's losses, binary cross-entropy on logits (deck 003's GAN).

    real, fake: (N,) the discriminator's logits for real images and for generated ones
    bce(l, y) = mean over n of -[y log sigmoid(l) + (1 - y) log(1 - sigmoid(l))]
    player "discriminator": loss = bce(real, 1) + bce(fake, 0)
    player "generator":     loss = bce(fake, 1)   (the non-saturating loss -log D(G(z)))

Write `backward`: given dout (a scalar), return (dreal, dfake), each (N,). Check it with:

    scratchnet exercise check gan_bce

연습 문제: GAN 손실의 기울기, 로짓에 대한 이진 교차 엔트로피 (deck 003의 GAN).

`backward`를 작성하세요: dout(스칼라)을 받아 (dreal, dfake)를 반환합니다 (각각 (N,)). 생성자는
가짜에 레이블 1을 붙이는 포화되지 않는(non-saturating) 손실을 씁니다: 어느 부호, 어느 레이블인지
주의하세요.

    scratchnet exercise check gan_bce --lang ko
"""
import numpy as np


def bce_with_logits(logits, label):
    # log sigmoid(l) = -log(1 + exp(-l)), written stably with logaddexp
    return np.mean(label * np.logaddexp(0, -logits) + (1 - label) * np.logaddexp(0, logits))


def forward(real, fake, player="discriminator"):
    if player == "discriminator":
        return bce_with_logits(real, 1.0) + bce_with_logits(fake, 0.0)
    return bce_with_logits(fake, 1.0)


def backward(dout, real, fake, player="discriminator"):
    raise NotImplementedError("write the gradients of the GAN losses")
