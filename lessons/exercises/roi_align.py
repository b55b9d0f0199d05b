"""Exercise: the backward pass of RoI align (Mask R-CNN, torchvision.ops.roi_align).

    x: (N, C, H, W)   boxes: (K, 5) [batch_index, x1, y1, x2, y2] in image pixels
    -> out: (K, C, PH, PW), output_size = (PH, PW)
    The box is scaled by spatial_scale and NOT rounded; aligned=True shifts it by -0.5 pixel,
    aligned=False (legacy) makes it at least 1x1. Each bin averages gh x gw sample points on a
    regular grid inside it (gh = sampling_ratio, or ceil(roi_h / PH) when sampling_ratio <= 0).
    A sample (y, x) reads the four pixels around it with bilinear weights:
        (1-ly)(1-lx) x[y0, x0] + (1-ly) lx x[y0, x1] + ly (1-lx) x[y1, x0] + ly lx x[y1, x1]
    (see `sample_taps` for the border rules).

Write `backward`: given dout (K, C, PH, PW), return dx (N, C, H, W). Check it with:

    scratchnet exercise check roi_align

연습 문제: RoI align(Mask R-CNN)의 역전파.

`backward`를 작성하세요: (K, C, PH, PW) 모양의 dout을 받아 (N, C, H, W) 모양의 dx를 반환합니다.
각 구간(bin)의 기울기는 표본점 수로 나뉘고, 표본점마다 이중 선형(bilinear) 가중치에 따라 주변
네 픽셀로 나뉘어 누적됩니다.

    scratchnet exercise check roi_align --lang ko
"""
import math

import numpy as np


def sample_taps(pos, size):
    """(low, high, weight of high) of a sample at `pos` on an axis of `size` pixels, or None
    when the sample lies outside [-1, size] and reads nothing."""
    if pos < -1.0 or pos > size:
        return None
    pos = max(pos, 0.0)
    low = int(pos)
    if low >= size - 1:
        return size - 1, size - 1, 0.0
    return low, low + 1, pos - low


def bin_samples(box, output_size, spatial_scale, sampling_ratio, aligned):
    """For every bin (ph, pw): the list of sample positions (y, x) it averages."""
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (v * spatial_scale - offset for v in box[1:])
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:
        roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
    ph_n, pw_n = output_size
    bin_h, bin_w = roi_h / ph_n, roi_w / pw_n
    gh = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / ph_n)
    gw = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / pw_n)
    samples = {}
    for ph in range(ph_n):
        for pw in range(pw_n):
            samples[ph, pw] = [(y1 + ph * bin_h + (iy + 0.5) * bin_h / gh,
                                x1 + pw * bin_w + (ix + 0.5) * bin_w / gw)
                               for iy in range(gh) for ix in range(gw)]
    return samples


def forward(x, boxes, output_size, spatial_scale=1.0, sampling_ratio=2, aligned=True):
    n, c, h, w = x.shape
    out = np.zeros((len(boxes), c) + tuple(output_size))
    for k, box in enumerate(boxes):
        b = int(box[0])
        bins = bin_samples(box, output_size, spatial_scale, sampling_ratio, aligned)
        for (ph, pw), points in bins.items():
            total = np.zeros(c)
            for y, xx in points:
                ty, tx = sample_taps(y, h), sample_taps(xx, w)
                if ty is None or tx is None:
                    continue
                (y0, y1, ly), (x0, x1, lx) = ty, tx
                total += ((1 - ly) * (1 - lx) * x[b, :, y0, x0] + (1 - ly) * lx * x[b, :, y0, x1]
                          + ly * (1 - lx) * x[b, :, y1, x0] + ly * lx * x[b, :, y1, x1])
            out[k, :, ph, pw] = total / max(len(points), 1)
    return out


def backward(dout, x, boxes, output_size, spatial_scale=1.0, sampling_ratio=2, aligned=True):
    raise NotImplementedError("write the backward pass of RoI align")
