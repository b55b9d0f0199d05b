import math

import numpy as np


def _taps(pos, size):
    if pos < -1.0 or pos > size:
        return None
    pos = max(pos, 0.0)
    low = int(pos)
    if low >= size - 1:
        return size - 1, size - 1, 0.0
    return low, low + 1, pos - low


def _samples(box, output_size, spatial_scale, sampling_ratio, aligned):
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (v * spatial_scale - offset for v in box[1:])
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:
        roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
    bin_h, bin_w = roi_h / output_size[0], roi_w / output_size[1]
    gh = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / output_size[0])
    gw = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / output_size[1])
    for ph in range(output_size[0]):
        for pw in range(output_size[1]):
            yield ph, pw, gh * gw, [(y1 + ph * bin_h + (iy + 0.5) * bin_h / gh,
                                     x1 + pw * bin_w + (ix + 0.5) * bin_w / gw)
                                    for iy in range(gh) for ix in range(gw)]


def backward(dout, x, boxes, output_size, spatial_scale=1.0, sampling_ratio=2, aligned=True):
    n, c, h, w = x.shape
    dx = np.zeros_like(x)
    for k, box in enumerate(boxes):
        b = int(box[0])
        for ph, pw, count, points in _samples(box, output_size, spatial_scale, sampling_ratio,
                                              aligned):
            g = dout[k, :, ph, pw] / max(count, 1)
            for y, xx in points:
                ty, tx = _taps(y, h), _taps(xx, w)
                if ty is None or tx is None:
                    continue
                (y0, y1, ly), (x0, x1, lx) = ty, tx
                dx[b, :, y0, x0] += (1 - ly) * (1 - lx) * g
                dx[b, :, y0, x1] += (1 - ly) * lx * g
                dx[b, :, y1, x0] += ly * (1 - lx) * g
                dx[b, :, y1, x1] += ly * lx * g
    return dx
