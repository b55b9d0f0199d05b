"""Exercise: the backward pass of RoI max pooling (Fast R-CNN, torchvision.ops.roi_pool).

    x: (N, C, H, W) feature map   boxes: (K, 5) [batch_index, x1, y1, x2, y2] in image pixels
    -> out: (K, C, PH, PW), output_size = (PH, PW)
    Each box is scaled by spatial_scale and rounded (halves away from zero, as C's round),
    roi_h = max(y2 - y1 + 1, 1); bin ph covers rows floor(ph * roi_h / PH) + y1 up to
    ceil((ph + 1) * roi_h / PH) + y1 (exclusive), clipped to the map (same for columns);
    out[k, c, ph, pw] = max of the bin on image batch_index (0 for an empty bin).

Write `backward`: given dout (K, C, PH, PW), return dx (N, C, H, W): each bin's gradient goes
to the pixel that won its max (the first in row-major order on a tie). Check it with:

    scratchnet exercise check roi_pool

연습 문제: RoI 최대 풀링(RoI max pooling, Fast R-CNN)의 역전파.

`backward`를 작성하세요: (K, C, PH, PW) 모양의 dout을 받아 (N, C, H, W) 모양의 dx를 반환합니다.
각 구간(bin)의 기울기는 최댓값을 낸 픽셀로 갑니다. RoI끼리, 또는 구간끼리 겹치면 기울기를
누적합니다 (CNN 응용 사례, deck 000의 21x14 -> 7x7, 35x42 -> 7x7 예).

    scratchnet exercise check roi_pool --lang ko
"""
import math

import numpy as np


def c_round(v):
    """Round halves away from zero (2.5 -> 3), as C's round; np.round would give 2."""
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def bins(start, end, pooled):
    """[(lo, hi), ...] of the pooled bins of a rounded RoI covering pixels start..end."""
    size = max(end - start + 1, 1)
    return [(math.floor(p * size / pooled) + start, math.ceil((p + 1) * size / pooled) + start)
            for p in range(pooled)]


def forward(x, boxes, output_size, spatial_scale=1.0):
    n, c, h, w = x.shape
    ph_n, pw_n = output_size
    out = np.zeros((len(boxes), c, ph_n, pw_n))
    for k, box in enumerate(boxes):
        b = int(box[0])
        x1, y1, x2, y2 = (c_round(v * spatial_scale) for v in box[1:])
        for ph, (h0, h1) in enumerate(bins(y1, y2, ph_n)):
            for pw, (w0, w1) in enumerate(bins(x1, x2, pw_n)):
                h0c, h1c = min(max(h0, 0), h), min(max(h1, 0), h)
                w0c, w1c = min(max(w0, 0), w), min(max(w1, 0), w)
                if h1c > h0c and w1c > w0c:
                    out[k, :, ph, pw] = x[b, :, h0c:h1c, w0c:w1c].max(axis=(1, 2))
    return out


def backward(dout, x, boxes, output_size, spatial_scale=1.0):
    raise NotImplementedError("write the backward pass of RoI pooling")
