import numpy as np


def backward(dout, pred, target, labels, beta=1.0):
    x = pred - target
    grad = np.where(np.abs(x) < beta, x / beta, np.sign(x))
    grad[labels == 0] = 0.0
    return dout * grad / len(pred)
