import numpy as np


def backward(dout, x, w, stride=1, padding=0):
    n, cin, h, wd = x.shape
    k = w.shape[2]
    full = np.pad(dout, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    for i in range(h):
        for j in range(wd):
            window = full[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            dx[:, :, i, j] = np.einsum("nokl,cokl->nc", window, w)
            dw += np.einsum("nc,nokl->cokl", x[:, :, i, j], window)
    return dx, dw
