"""Cases for RoI pool and RoI align, with PyTorch peers built from torch's own ops.

torchvision cannot be installed here, so the peers use plain torch:

- RoI pool on a box with whole-pixel corners is adaptive_max_pool2d of the crop: both split
  S pixels into P bins [floor(p*S/P), ceil((p+1)*S/P)). The feature map is padded with -inf
  first, so that boxes crossing the border keep the in-map part of each bin, and a bin wholly
  outside comes out -inf, which torchvision defines as 0. torchvision computes those edges in
  floating point, and for some (S, P), e.g. S = 29 rows into P = 7 bins in float64, the last
  edge rounds up past the box; adaptive pooling uses integers. The boxes here avoid such
  sizes in float32 and float64 (tests/test_roi.py checks the kernel against the slow reference
  on them instead).
- RoI align samples with grid_sample(align_corners=False, padding_mode="border"): its
  bilinear weights and its clamping of samples in [-1, 0] and [H-1, H] to the edge pixel are
  torchvision's; samples outside [-1, H] x [-1, W] are masked to 0 as torchvision does. The
  sample positions come from the documented rule (start, bin size, grid).
- aligned=True boxes whose samples land on pixel centres average exact pixels: avg_pool2d.
"""
import math

import numpy as np

import scratchnet as sn
from scratchnet.ops import roi_align, roi_pool

from . import Case

F64 = np.float64


def _boxes(rows):
    return np.array(rows, dtype=F64)


def _torch_roi_pool(t, x, rois, output_size, scale=1.0):
    """Per box: round the corners (C rounding; the cases only scale non-negative corners),
    crop the -inf padded map, adaptive_max_pool2d, -inf -> 0."""
    F = t.nn.functional
    ph, pw = output_size
    _, _, H, W = x.shape
    outs = []
    for b, x1, y1, x2, y2 in rois.tolist():
        r = [math.floor(v * scale + 0.5) if v * scale >= 0 else math.ceil(v * scale - 0.5)
             for v in (x1, y1, x2, y2)]
        c0, r0, c1, r1 = r[0], r[1], max(r[2], r[0]), max(r[3], r[1])
        pad = max(0, -c0, -r0, c1 - W + 1, r1 - H + 1)
        xp = F.pad(x[int(b):int(b) + 1], (pad, pad, pad, pad), value=-math.inf)
        crop = xp[:, :, r0 + pad:r1 + pad + 1, c0 + pad:c1 + pad + 1]
        o = F.adaptive_max_pool2d(crop, (ph, pw))[0]
        outs.append(t.where(t.isinf(o), t.zeros_like(o), o))
    return t.stack(outs)


def _align_axis(lo, hi, scale, pooled, sampling_ratio, aligned):
    offset = 0.5 if aligned else 0.0
    start = lo * scale - offset
    length = (hi * scale - offset) - start
    if not aligned:
        length = max(length, 1.0)
    grid = sampling_ratio if sampling_ratio > 0 else math.ceil(length / pooled)
    bin_size = length / pooled
    return [start + p * bin_size + (i + 0.5) * bin_size / grid
            for p in range(pooled) for i in range(max(grid, 0))], grid


def _torch_roi_align(t, x, rois, output_size, scale=1.0, sampling_ratio=-1, aligned=False):
    """Per box: grid_sample at the sample positions, mask the far-outside ones, average."""
    F = t.nn.functional
    ph, pw = output_size
    _, C, H, W = x.shape
    outs = []
    for b, x1, y1, x2, y2 in rois.tolist():
        ys, gy = _align_axis(y1, y2, scale, ph, sampling_ratio, aligned)
        xs, gx = _align_axis(x1, x2, scale, pw, sampling_ratio, aligned)
        if gy <= 0 or gx <= 0:
            outs.append(x.new_zeros((C, ph, pw)))
            continue
        ty = t.tensor(ys, dtype=x.dtype)
        tx = t.tensor(xs, dtype=x.dtype)
        # align_corners=False: pixel i is at normalised (2i + 1)/size - 1
        gyy, gxx = t.meshgrid((2 * ty + 1) / H - 1, (2 * tx + 1) / W - 1, indexing="ij")
        grid = t.stack([gxx, gyy], dim=-1)[None]
        s = F.grid_sample(x[int(b):int(b) + 1], grid, mode="bilinear",
                          padding_mode="border", align_corners=False)[0]
        inside = (((ty >= -1) & (ty <= H))[:, None] & ((tx >= -1) & (tx <= W))[None, :])
        s = s * inside.to(x.dtype)
        outs.append(s.reshape(C, ph, gy, pw, gx).sum(dim=(2, 4)) / max(gy * gx, 1))
    return t.stack(outs)


def _with(boxes, map_shape):
    def inputs(rng):
        return [(rng.standard_normal(map_shape), True), (boxes, False)]
    return inputs


def _with_list(box_lists, map_shape):
    def inputs(rng):
        return [(rng.standard_normal(map_shape), True)] + [(b, False) for b in box_lists]
    return inputs


# whole-pixel boxes inside a 10x12 map; heights 7, 4, 10, 2 and widths 5, 9, 12, 2 into 3x2
# bins (the 2-pixel box is smaller than a bin: neighbouring bins share its pixels)
INSIDE = _boxes([[0, 2, 1, 6, 7], [1, 0, 5, 8, 8], [1, 0, 0, 11, 9], [0, 9, 3, 10, 4]])
# crossing each border, one wholly outside (every bin empty), one malformed (x2 < x1)
BORDER = _boxes([[0, -3, -2, 5, 6], [1, 6, 4, 13, 11], [0, -7, -6, -2, -1],
                 [1, 5, 2, 3, 7]])
# at scale 1/2 these corners land on .5: C rounds them up (np.round would go to even)
HALF = _boxes([[0, 1, 3, 13, 9], [1, 5, 1, 17, 15], [0, 0, 0, 21, 19]])
# fractional boxes inside a 9x10 map
ALIGN_INSIDE = _boxes([[0, 0.6, 1.2, 7.9, 6.3], [1, 2.25, 0.4, 8.7, 8.1],
                       [0, 3.1, 2.2, 5.4, 4.9]])
# at scale 1/2, crossing every border; one far outside (samples beyond -1 add 0)
ALIGN_BORDER = _boxes([[0, -3.4, -1.7, 9.2, 8.5], [1, 10.3, 12.6, 23.1, 21.7],
                       [0, -9.8, 3.3, 4.4, 22.9], [1, 40.2, 1.3, 52.7, 5.1]])
# smaller than a pixel (the legacy rule makes them 1x1) and one with x2 < x1
ALIGN_TINY = _boxes([[0, 3.2, 4.1, 3.5, 4.3], [1, 6.6, 0.2, 7.1, 0.9], [0, 5.0, 5.0, 4.0, 6.5]])
# aligned=True, 4x4 boxes in 2x2 bins with 2x2 samples: the samples are pixel centres
CENTRES = _boxes([[0, 2, 0, 6, 4], [1, 0, 4, 4, 8], [1, 6, 3, 10, 7]])


def _centres_peer(t, x, rois):
    F = t.nn.functional
    return t.cat([F.avg_pool2d(x[int(b):int(b) + 1, :, int(y1):int(y2), int(x1):int(x2)], 2)
                  for b, x1, y1, x2, y2 in rois.tolist()])


CASES = [
    Case("roi_pool_inside", "roi_pool",
         lambda x, b: roi_pool(x, b, (3, 2)), _with(INSIDE, (2, 3, 10, 12)),
         lambda t, x, b: _torch_roi_pool(t, x, b, (3, 2))),
    Case("roi_pool_border", "roi_pool",
         lambda x, b: roi_pool(x, b, 3), _with(BORDER, (2, 2, 8, 9)),
         lambda t, x, b: _torch_roi_pool(t, x, b, (3, 3))),
    Case("roi_pool_scale_half", "roi_pool",
         lambda x, b: roi_pool(x, b, (2, 3), spatial_scale=0.5), _with(HALF, (2, 2, 11, 12)),
         lambda t, x, b: _torch_roi_pool(t, x, b, (2, 3), scale=0.5)),
    Case("roi_pool_box_list", "roi_pool",
         lambda x, b0, b1: roi_pool(x, [b0, b1], (2, 2)),
         _with_list([INSIDE[:2, 1:], INSIDE[2:, 1:]], (2, 3, 10, 12)),
         lambda t, x, b0, b1: _torch_roi_pool(
             t, x, t.cat([t.cat([t.zeros(2, 1, dtype=x.dtype), b0], 1),
                          t.cat([t.ones(2, 1, dtype=x.dtype), b1], 1)]), (2, 2))),
    Case("roi_align_inside_sr2", "roi_align",
         lambda x, b: roi_align(x, b, (2, 3), sampling_ratio=2),
         _with(ALIGN_INSIDE, (2, 2, 9, 10)),
         lambda t, x, b: _torch_roi_align(t, x, b, (2, 3), sampling_ratio=2)),
    Case("roi_align_border_adaptive_aligned", "roi_align",
         lambda x, b: roi_align(x, b, 2, spatial_scale=0.5, aligned=True),
         _with(ALIGN_BORDER, (2, 2, 8, 9)),
         lambda t, x, b: _torch_roi_align(t, x, b, (2, 2), scale=0.5, aligned=True)),
    Case("roi_align_border_sr2_legacy", "roi_align",
         lambda x, b: roi_align(x, b, (3, 2), spatial_scale=0.5, sampling_ratio=2),
         _with(ALIGN_BORDER, (2, 1, 8, 9)),
         lambda t, x, b: _torch_roi_align(t, x, b, (3, 2), scale=0.5, sampling_ratio=2)),
    Case("roi_align_tiny_legacy", "roi_align",
         lambda x, b: roi_align(x, b, 2), _with(ALIGN_TINY, (2, 2, 7, 8)),
         lambda t, x, b: _torch_roi_align(t, x, b, (2, 2))),
    Case("roi_align_tiny_aligned_sr2", "roi_align",
         lambda x, b: roi_align(x, b, 2, sampling_ratio=2, aligned=True),
         _with(ALIGN_TINY, (2, 2, 7, 8)),
         lambda t, x, b: _torch_roi_align(t, x, b, (2, 2), sampling_ratio=2, aligned=True)),
    Case("roi_align_pixel_centres", "roi_align",
         lambda x, b: roi_align(x, b, 2, sampling_ratio=2, aligned=True),
         _with(CENTRES, (2, 2, 10, 11)),
         lambda t, x, b: _centres_peer(t, x, b)),
    Case("roi_align_box_list", "roi_align",
         lambda x, b0, b1: roi_align(x, (b0, b1), (2, 2), sampling_ratio=1),
         _with_list([ALIGN_INSIDE[:1, 1:], ALIGN_INSIDE[1:, 1:]], (2, 2, 9, 10)),
         lambda t, x, b0, b1: _torch_roi_align(
             t, x, t.cat([t.cat([t.zeros(1, 1, dtype=x.dtype), b0], 1),
                          t.cat([t.ones(2, 1, dtype=x.dtype), b1], 1)]), (2, 2),
             sampling_ratio=1)),
]
