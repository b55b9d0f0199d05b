import numpy as np


def backward(dout, pred, target, obj, resp, lambda_coord=5.0):
    b = pred.shape[3]
    mask = (obj[..., None] * (np.arange(b) == resp[..., None]))[..., None]
    grad = np.empty_like(pred)
    grad[..., :2] = 2 * (pred[..., :2] - target[..., None, :2])
    # d/dw (sqrt(w) - sqrt(w_t))^2 = (sqrt(w) - sqrt(w_t)) / sqrt(w)
    root = np.sqrt(pred[..., 2:])
    grad[..., 2:] = (root - np.sqrt(target[..., None, 2:])) / root
    return dout * lambda_coord * grad * mask / len(pred)
