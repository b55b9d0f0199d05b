import math

import numpy as np


def _round(v):
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def _bins(start, end, pooled):
    size = max(end - start + 1, 1)
    return [(math.floor(p * size / pooled) + start, math.ceil((p + 1) * size / pooled) + start)
            for p in range(pooled)]


def backward(dout, x, boxes, output_size, spatial_scale=1.0):
    n, c, h, w = x.shape
    dx = np.zeros_like(x)
    channels = np.arange(c)
    for k, box in enumerate(boxes):
        b = int(box[0])
        x1, y1, x2, y2 = (_round(v * spatial_scale) for v in box[1:])
        for ph, (h0, h1) in enumerate(_bins(y1, y2, output_size[0])):
            for pw, (w0, w1) in enumerate(_bins(x1, x2, output_size[1])):
                h0, h1 = min(max(h0, 0), h), min(max(h1, 0), h)
                w0, w1 = min(max(w0, 0), w), min(max(w1, 0), w)
                if h1 <= h0 or w1 <= w0:
                    continue
                window = x[b, :, h0:h1, w0:w1].reshape(c, -1)
                r, s = np.unravel_index(window.argmax(axis=1), (h1 - h0, w1 - w0))
                dx[b, channels, h0 + r, w0 + s] += dout[k, :, ph, pw]
    return dx
