import numpy as np


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def backward(dout, real, fake, player="discriminator"):
    if player == "discriminator":
        return dout * (_sigmoid(real) - 1) / len(real), dout * _sigmoid(fake) / len(fake)
    return np.zeros_like(real), dout * (_sigmoid(fake) - 1) / len(fake)
