"""RoI pooling and RoI align: torchvision.ops.roi_pool / roi_align.

A detector (Fast / Faster R-CNN) runs the backbone once per image and then needs a fixed-size
feature for each of hundreds of proposed boxes, so that one fully connected head can classify
them all. RoI pooling cuts each box out of the feature map and max-pools it onto a PH x PW grid
whatever its size: the course deck's 21x14 RoI becomes 7x7 with 3x2 bins, a 35x42 RoI with 5x6
bins. Rounding the box to whole feature-map pixels (1/16 of the image at VGG's conv5) shifts it
by up to 8 image pixels; RoI align (Mask R-CNN) keeps the box fractional and averages bilinear
samples inside each bin instead.

Boxes follow torchvision: a (K, 5) tensor of [batch_index, x1, y1, x2, y2], or a list with one
(L, 4) tensor of [x1, y1, x2, y2] per image. Coordinates are in the input image's pixels;
spatial_scale maps them to the feature map. Gradients flow to the feature map only.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd.function import Function, register
from ..autograd.tensor import Tensor
from ..kernels import roi as K
from ..shapes import pair

_BOXES = ("a (K, 5) tensor of [batch_index, x1, y1, x2, y2] or a list of (L, 4) tensors of "
          "[x1, y1, x2, y2], one per image")


def _array(a):
    return a.data if isinstance(a, Tensor) else np.asarray(a)


def _check_input(x, op):
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got a {x.ndim}-D input "
                         f"of shape {tuple(x.shape)}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: expected a float32 or float64 input, got {x.dtype}")


def _pair_size(output_size, op):
    size = pair(output_size, "output_size", op)
    if min(size) < 1:
        raise ValueError(f"{op}: output_size must be at least 1x1 (each RoI is split into "
                         f"output_size[0] x output_size[1] bins), got {output_size!r}")
    return size


def _scale(spatial_scale, op, dtype):
    try:
        s = float(spatial_scale)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: spatial_scale must be a number, got {spatial_scale!r}") from None
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"{op}: spatial_scale must be a finite number > 0 (feature-map pixels "
                         f"per image pixel, e.g. 1/16), got {spatial_scale!r}")
    return dtype.type(s)


def _as_rois(boxes, n_images, dtype, scale, op):
    """(K, 5) float array of `dtype` from either box format, with every box checked.

    A list or tuple of Tensors / arrays is the per-image format; plain nested numbers such as
    [[0, 1, 1, 4, 4]] are read as the (K, 5) tensor they spell."""
    per_image = (isinstance(boxes, (list, tuple))
                 and all(isinstance(b, (Tensor, np.ndarray)) for b in boxes))
    if per_image:
        if len(boxes) > n_images:
            raise ValueError(f"{op}: the boxes list has {len(boxes)} entries but the input "
                             f"holds {n_images} image(s); give one (L, 4) tensor per image")
        parts = []
        for i, b in enumerate(boxes):
            b = _array(b)
            if b.ndim != 2 or b.shape[1] != 4:
                raise ValueError(f"{op}: boxes must be {_BOXES}; entry {i} of the list has "
                                 f"shape {tuple(b.shape)}, expected (L, 4)")
            parts.append(np.concatenate([np.full((len(b), 1), i, np.float64),
                                         b.astype(np.float64)], axis=1))
        rois = np.concatenate(parts, axis=0) if parts else np.zeros((0, 5))
    else:
        rois = _array(boxes)
        if rois.ndim != 2 or rois.shape[1] != 5:
            raise ValueError(f"{op}: boxes must be {_BOXES}; got a tensor of shape "
                             f"{tuple(rois.shape)}")
    if rois.dtype.kind not in "biuf":
        raise TypeError(f"{op}: boxes must hold numbers, got dtype {rois.dtype}")
    wide = rois.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(wide).all(axis=1))
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"{op}: box {k} has a non-finite value: {wide[k].tolist()} "
                         f"([batch_index, x1, y1, x2, y2])")
    index = wide[:, 0]
    bad = np.flatnonzero(index != np.floor(index))
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"{op}: box {k} has batch index {index[k]:g}; a batch index must be "
                         f"a whole number from 0 to {n_images - 1}")
    bad = np.flatnonzero((index < 0) | (index >= n_images))
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"{op}: box {k} has batch index {int(index[k])} but the input holds "
                         f"{n_images} image(s) (valid: 0 to {n_images - 1})")
    rois = np.ascontiguousarray(rois, dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = rois[:, 1:] * scale
    bad = np.flatnonzero(~np.isfinite(scaled).all(axis=1))
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"{op}: box {k} {wide[k, 1:].tolist()} times spatial_scale "
                         f"{float(scale)} overflows {dtype}")
    # the kernels turn map coordinates into C ints, as torchvision does
    bad = np.flatnonzero((np.abs(scaled) >= 2.0 ** 31).any(axis=1))
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"{op}: box {k} {wide[k, 1:].tolist()} times spatial_scale "
                         f"{float(scale)} lies beyond the int32 range of map pixels")
    return rois


@register("roi_pool")
class RoIPool(Function):
    """Max over each of PH x PW bins of each rounded box; the gradient goes to the max."""

    @staticmethod
    def forward(ctx, input, boxes, output_size=(1, 1), spatial_scale=1.0):
        op = "roi_pool"
        x = _array(input)
        _check_input(x, op)
        ph, pw = _pair_size(output_size, op)
        scale = _scale(spatial_scale, op, x.dtype)
        rois = _as_rois(boxes, x.shape[0], x.dtype, scale, op)
        with K.serial_if_small(len(rois) * x.shape[1] * ph * pw):
            out, argmax = K.roi_pool_forward(np.ascontiguousarray(x), rois, scale, ph, pw,
                                             bool(ctx.needs_input_grad[0]))
        ctx.rois, ctx.argmax, ctx.input_shape = rois, argmax, x.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[0]:
            return None, None
        n, _, h, w = ctx.input_shape
        with K.serial_if_small(grad.size):
            return K.roi_pool_backward(np.ascontiguousarray(grad), ctx.argmax, ctx.rois,
                                       n, h, w), None


@register("roi_align")
class RoIAlign(Function):
    """Average of bilinear samples in each of PH x PW bins of each (unrounded) box."""

    @staticmethod
    def forward(ctx, input, boxes, output_size=(1, 1), spatial_scale=1.0, sampling_ratio=-1,
                aligned=False):
        op = "roi_align"
        x = _array(input)
        _check_input(x, op)
        ph, pw = _pair_size(output_size, op)
        scale = _scale(spatial_scale, op, x.dtype)
        if isinstance(sampling_ratio, bool) or not isinstance(sampling_ratio, numbers.Integral):
            raise TypeError(f"{op}: sampling_ratio must be an int (samples per bin along each "
                            f"axis; <= 0 for adaptive), got {sampling_ratio!r}")
        rois = _as_rois(boxes, x.shape[0], x.dtype, scale, op)
        with K.serial_if_small(len(rois) * x.shape[1] * ph * pw):
            out = K.roi_align_forward(np.ascontiguousarray(x), rois, scale, ph, pw,
                                      int(sampling_ratio), bool(aligned))
        ctx.info = (rois, scale, int(sampling_ratio), bool(aligned), x.shape)
        return out

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[0]:
            return None, None
        rois, scale, sampling_ratio, aligned, (n, _, h, w) = ctx.info
        with K.serial_if_small(grad.size):
            return K.roi_align_backward(np.ascontiguousarray(grad), rois, scale,
                                        sampling_ratio, aligned, n, h, w), None


def roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """RoI max pooling of Fast R-CNN (torchvision.ops.roi_pool).

    Each box is rounded to feature-map pixels (C rounding: .5 goes away from zero), split into
    output_size bins of size roi_h / PH by roi_w / PW (bin edges floor / ceil, so bins may
    share a row), and max-pooled. A bin lying wholly outside the map gives 0.

    Inputs:
    - input: (N, C, H, W) feature map
    - boxes: (K, 5) [batch_index, x1, y1, x2, y2], or a list of N' <= N (L_i, 4) tensors
      [x1, y1, x2, y2] (then K = sum L_i and the batch index is the position in the list)
    - output_size: int or (PH, PW)
    - spatial_scale: feature-map pixels per image pixel (1/16 for VGG-16's conv5)
    Returns: (K, C, PH, PW), same dtype as input.
    """
    return RoIPool.apply(input, boxes, output_size=output_size, spatial_scale=spatial_scale)


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """RoI align of Mask R-CNN (torchvision.ops.roi_align).

    The box is not rounded. Each of the PH x PW bins averages gy x gx bilinear samples on a
    regular grid inside it, gy = sampling_ratio or, when sampling_ratio <= 0,
    ceil(roi_h / PH) (likewise gx). aligned=True shifts the box by -0.5 pixel so that pixel
    centres are where the box says (Detectron2); aligned=False is the original, which also
    makes every box at least 1x1.

    Inputs:
    - input: (N, C, H, W) feature map
    - boxes: (K, 5) [batch_index, x1, y1, x2, y2] or a list of (L_i, 4) [x1, y1, x2, y2]
    - output_size: int or (PH, PW)
    - spatial_scale: feature-map pixels per image pixel
    - sampling_ratio: samples per bin along each axis; <= 0 for adaptive
    - aligned: half-pixel offset
    Returns: (K, C, PH, PW), same dtype as input.
    """
    return RoIAlign.apply(input, boxes, output_size=output_size, spatial_scale=spatial_scale,
                          sampling_ratio=sampling_ratio, aligned=aligned)


def roi_pool_bins(box, output_size, spatial_scale=1.0, input_size=None, dtype=None):
    """The pixel ranges RoI pooling takes the max over, for one box: the kernel's own bins.

    box: (x1, y1, x2, y2) in image pixels; output_size: int or (PH, PW); input_size: (H, W)
    of the feature map to clip to, or None to leave the bins unclipped; dtype: the arithmetic
    (default float32, as the kernel does for float32 maps).
    Returns (rows, cols): rows[ph] = (start, end) with start <= h < end, cols likewise.

    The deck's example: a 21x14 (height x width) RoI pooled to 7x7 uses 3x2 bins,
    >>> rows, cols = roi_pool_bins((0, 0, 13, 20), 7)
    >>> rows[:3], cols[:3]
    ([(0, 3), (3, 6), (6, 9)], [(0, 2), (2, 4), (4, 6)])
    """
    op = "roi_pool_bins"
    ph, pw = _pair_size(output_size, op)
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    scale = _scale(spatial_scale, op, dtype)
    coords = np.asarray(box, dtype=np.float64).reshape(-1)
    if coords.shape != (4,):
        raise ValueError(f"{op}: box must be (x1, y1, x2, y2), got {box!r}")
    rois = _as_rois(np.concatenate([[0.0], coords])[None], 1, dtype, scale, op)
    rows, cols = K.roi_pool_bin_edges(rois, scale, ph, pw)
    rows, cols = rows[0], cols[0]
    if input_size is not None:
        h, w = input_size
        rows, cols = np.clip(rows, 0, h), np.clip(cols, 0, w)
    return ([(int(a), int(b)) for a, b in rows], [(int(a), int(b)) for a, b in cols])
