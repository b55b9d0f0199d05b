import numpy as np


def backward(dout, x, w, b, stride=1, padding=0):
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            hs, ws = i * stride, j * stride
            window = xp[:, :, hs:hs + kh, ws:ws + kw]
            dw += np.einsum("nk,nchw->kchw", dout[:, :, i, j], window)
            dxp[:, :, hs:hs + kh, ws:ws + kw] += np.einsum("nk,kchw->nchw", dout[:, :, i, j], w)
    db = dout.sum(axis=(0, 2, 3))
    return dxp[:, :, padding:padding + h, padding:padding + wd], dw, db
