"""Upsampling, under torch.nn.functional's names, argument order and defaults.

    interpolate(input, size=None, scale_factor=None, mode='nearest', align_corners=None,
                recompute_scale_factor=None, antialias=False)
        mode 'nearest'   (N, C, H, W) -> (N, C, H', W')   or  (N, C, L) -> (N, C, L')
        mode 'bilinear'  (N, C, H, W) -> (N, C, H', W')
        mode 'linear'    (N, C, L) -> (N, C, L')
        mode 'bicubic'   (N, C, H, W) -> (N, C, H', W')
    upsample_nearest(input, size=None, scale_factor=None)    PyTorch's old alias
    upsample_bilinear(input, size=None, scale_factor=None)   old alias, align_corners=True!
    bed_of_nails(input, scale_factor=2)  (N, C, H, W) -> (N, C, s*H, s*W); not in PyTorch

The output size is `size`, or floor(H * scale_factor) for each spatial dimension. A 3-D input
is (N, C, L) here, one spatial dimension, as in PyTorch's interpolate (pooling reads a 3-D
input as one (C, H, W) image instead).

These are the non-learned upsamplings of deck 004 ("업샘플링", the unpooling slide) and of
the FCN decoder in deck 000: nearest neighbour repeats each pixel, bed of nails puts it in
one corner of its block and zeros elsewhere, bilinear blends the four nearest pixels, bicubic
the sixteen nearest (the baseline of deck 000's super-resolution slides, and SRCNN's first
step). The learned one is conv_transpose2d. Which pixels are read is PyTorch's rule, pinned in
scratchnet/kernels/upsample.py; the numba kernels that do the work are there too.

Every op is linear in its input, so each backward is the transpose of its forward: each
output's gradient goes back to the pixels it read, scaled by the weight it read them with.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd.function import Function, register
from ..kernels import upsample as K
from .methods import as_tensor

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_MODES = {"nearest": (3, 4), "linear": (3,), "bilinear": (4,), "bicubic": (4,)}
_TORCH_ONLY = ("nearest-exact", "trilinear", "area", "lanczos")


def _as_planes(x):
    """(P, H, W) contiguous view of an (N, C, H, W) or (N, C, L) array (L as a 1 x L plane)."""
    if x.ndim == 3:
        return np.ascontiguousarray(x).reshape(-1, 1, x.shape[2])
    return np.ascontiguousarray(x).reshape(-1, x.shape[2], x.shape[3])


def _spatial(shape):
    """(H, W) of an (N, C, H, W) shape, (1, L) of an (N, C, L) shape."""
    return (shape[2], shape[3]) if len(shape) == 4 else (1, shape[2])


@register("interpolate_nearest")
class InterpolateNearest(Function):
    """Nearest neighbour: out[n, c, i, j] = x[n, c, rows[i], cols[j]].

    x: (N, C, H, W) or (N, C, L); out_size: (H', W') or (L',); scales: the scale factor of
    each spatial dimension (None where the size was given) -> (N, C, H', W') or (N, C, L').
    """

    @staticmethod
    def forward(ctx, x, out_size, scales):
        (H, W), (oh, ow) = _spatial(x.shape), _spatial((0, 0) + tuple(out_size))
        sh, sw = (None,) + tuple(scales) if x.ndim == 3 else tuple(scales)
        rows = K.nearest_table(H, oh, sh, x.dtype)
        cols = K.nearest_table(W, ow, sw, x.dtype)
        ctx.info = (x.shape, rows, cols)
        out = K.nearest_forward(_as_planes(x), rows, cols)
        return out.reshape(x.shape[:2] + tuple(out_size))

    @staticmethod
    def backward(ctx, grad):
        shape, rows, cols = ctx.info
        H, W = _spatial(shape)
        g = K.nearest_backward(_as_planes(grad), rows, cols, H, W)
        return g.reshape(shape)


@register("interpolate_bilinear")
class InterpolateBilinear(Function):
    """Bilinear (linear for an (N, C, L) input): each output is a weighted mean of the four
    (two) input pixels around its source position.

    x: (N, C, H, W) or (N, C, L); out_size: (H', W') or (L',); scales: as in
    InterpolateNearest; align_corners: bool -> (N, C, H', W') or (N, C, L').
    """

    @staticmethod
    def forward(ctx, x, out_size, scales, align_corners):
        (H, W), (oh, ow) = _spatial(x.shape), _spatial((0, 0) + tuple(out_size))
        sh, sw = (None,) + tuple(scales) if x.ndim == 3 else tuple(scales)
        rows = K.linear_table(H, oh, sh, align_corners, x.dtype)
        cols = K.linear_table(W, ow, sw, align_corners, x.dtype)
        ctx.info = (x.shape, rows, cols)
        out = K.bilinear_forward(_as_planes(x), *rows, *cols)
        return out.reshape(x.shape[:2] + tuple(out_size))

    @staticmethod
    def backward(ctx, grad):
        shape, rows, cols = ctx.info
        H, W = _spatial(shape)
        g = K.bilinear_backward(_as_planes(grad), *rows, *cols, H, W)
        return g.reshape(shape)


@register("interpolate_bicubic")
class InterpolateBicubic(Function):
    """Bicubic: each output is a weighted sum of the 4 x 4 input pixels around its source
    position, with Keys' cubic kernel (a = -0.75) along each axis and the border pixels
    repeated where the 4 x 4 block leaves the image (PyTorch's rule). The weights can be
    negative, so the output can overshoot the input's range (ringing at sharp edges).

    x: (N, C, H, W); out_size: (H', W'); scales: as in InterpolateNearest; align_corners:
    bool -> (N, C, H', W').
    """

    @staticmethod
    def forward(ctx, x, out_size, scales, align_corners):
        (H, W), (oh, ow) = x.shape[2:], tuple(out_size)
        rows = K.cubic_table(H, oh, scales[0], align_corners, x.dtype)
        cols = K.cubic_table(W, ow, scales[1], align_corners, x.dtype)
        ctx.info = (x.shape, rows, cols)
        out = K.bicubic_forward(_as_planes(x), *rows, *cols)
        return out.reshape(x.shape[:2] + tuple(out_size))

    @staticmethod
    def backward(ctx, grad):
        shape, rows, cols = ctx.info
        g = K.bicubic_backward(_as_planes(grad), *rows, *cols, shape[2], shape[3])
        return g.reshape(shape)


@register("bed_of_nails")
class BedOfNails(Function):
    """Zero-insertion upsampling (deck 004, "Bed of Nails"): each pixel goes to the top-left
    corner of its sh x sw block of the output, the rest of the block is zero.

    x: (N, C, H, W); factor: (sh, sw) -> (N, C, sh*H, sw*W).

    One strided assignment, which NumPy already does at memory speed, so there is no kernel.
    The backward reads the gradient back from the same corners; the zeros depend on nothing.
    """

    @staticmethod
    def forward(ctx, x, factor):
        sh, sw = factor
        N, C, H, W = x.shape
        out = np.zeros((N, C, H * sh, W * sw), dtype=x.dtype)
        out[:, :, ::sh, ::sw] = x
        ctx.factor = factor
        return out

    @staticmethod
    def backward(ctx, grad):
        sh, sw = ctx.factor
        return np.ascontiguousarray(grad[:, :, ::sh, ::sw])


# Argument checking: everything the Functions and kernels above are allowed to assume.
def _float_input(input, layer):
    x = as_tensor(input)
    if x.dtype not in _FLOATS:
        raise TypeError(f"{layer}: expected a float32 or float64 input, got {x.dtype}; "
                        f"call .float() first")
    if 0 in x.shape[2:]:
        raise ValueError(f"{layer}: the input of shape {tuple(x.shape)} has an empty spatial "
                         f"dimension; there is nothing to resample")
    return x


def _is_int(v):
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)


def _per_dim(value, dims, name, layer, in_spatial):
    """A value for each spatial dimension, from one value or a sequence of `dims` values."""
    if isinstance(value, (tuple, list)):
        if len(value) != dims:
            raise ValueError(
                f"{layer}: the input has {dims} spatial dimension(s) {list(in_spatial)}, but "
                f"{name} has {len(value)} entries {tuple(value)}; give one value or {dims}")
        return tuple(value)
    return (value,) * dims


def _output_size(layer, in_spatial, size, scale_factor, recompute_scale_factor):
    """(out_size, scales): the output's spatial size, and the scale factor each dimension's
    index rule uses (None: use in/out, as when a size is given)."""
    dims = len(in_spatial)
    if size is not None and scale_factor is not None:
        raise ValueError(f"{layer}: give either size or scale_factor, not both "
                         f"(got size={size!r}, scale_factor={scale_factor!r})")
    if size is None and scale_factor is None:
        raise ValueError(f"{layer}: either size or scale_factor must be given "
                         f"(e.g. scale_factor=2 doubles H and W)")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{layer}: recompute_scale_factor=True is meaningless with an "
                             f"explicit size={size!r}")
        sizes = _per_dim(size, dims, "size", layer, in_spatial)
        if not all(_is_int(s) for s in sizes):
            raise TypeError(f"{layer}: size must be an int or a tuple of {dims} ints, got "
                            f"{size!r} ({', '.join(type(s).__name__ for s in sizes)})")
        sizes = tuple(int(s) for s in sizes)
        if min(sizes) < 1:
            raise ValueError(f"{layer}: every output size must be >= 1, got size={size!r} for "
                             f"an input of spatial size {tuple(in_spatial)}")
        return sizes, (None,) * dims
    factors = _per_dim(scale_factor, dims, "scale_factor", layer, in_spatial)
    if not all(isinstance(f, (numbers.Real, np.number)) and not isinstance(f, bool)
               for f in factors):
        raise TypeError(f"{layer}: scale_factor must be a number or a tuple of {dims} numbers, "
                        f"got {scale_factor!r}")
    factors = tuple(float(f) for f in factors)
    if not all(math.isfinite(f) and f > 0 for f in factors):
        raise ValueError(f"{layer}: scale_factor must be positive and finite, got "
                         f"{scale_factor!r}")
    sizes = tuple(int(math.floor(n * f)) for n, f in zip(in_spatial, factors))
    for n, f, m in zip(in_spatial, factors, sizes):
        if m < 1:
            raise ValueError(f"{layer}: scale_factor={f:g} shrinks a size-{n} dimension to "
                             f"nothing: floor({n} * {f:g}) = {m}; the output needs >= 1 pixel")
    if recompute_scale_factor:
        # PyTorch: keep the size floor(n * f) but index as if that size had been asked for
        return sizes, (None,) * dims
    return sizes, factors


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions of a batch, as torch.nn.functional.interpolate.

    input: (N, C, H, W) for 'nearest' / 'bilinear' / 'bicubic', or (N, C, L) for 'nearest' /
        'linear'.
    size: the output's spatial size, an int (every dimension) or a tuple; or
    scale_factor: a number or tuple, output size floor(H * scale_factor); it need not be an
        integer (1.5 turns 4 pixels into 6, 0.5 halves). Exactly one of the two.
    align_corners ('linear' / 'bilinear' / 'bicubic' only, default False): False treats pixels as unit
        squares whose centres are resampled, so the result does not depend on the image size;
        True makes the corner pixels of input and output coincide (PyTorch's old default).
    recompute_scale_factor: with a scale_factor, pick pixels as if the computed output size
        had been asked for (in/out) rather than by 1/scale_factor. The two differ when
        floor(H * scale_factor) is not exactly H * scale_factor.
    Returns (N, C, H', W') (or (N, C, L')), same dtype.
    """
    layer = f"interpolate(mode={mode!r})"
    if not isinstance(mode, str) or mode not in _MODES:
        hint = (" (a PyTorch mode scratchnet does not implement)"
                if mode in _TORCH_ONLY else "")
        raise ValueError(f"interpolate: mode must be one of {sorted(_MODES)}, got "
                         f"{mode!r}{hint}")
    if mode == "nearest":
        if align_corners is not None:
            raise ValueError(f"{layer}: align_corners only applies to the interpolating "
                             f"modes 'linear', 'bilinear' and 'bicubic'; leave it None for "
                             f"'nearest' "
                             f"(got align_corners={align_corners!r})")
    elif align_corners is None:
        align_corners = False
    elif not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"{layer}: align_corners must be True, False or None, got "
                        f"{align_corners!r}")
    if antialias:
        raise ValueError(f"{layer}: antialias=True is not implemented in scratchnet")
    x = as_tensor(input)
    if x.ndim not in _MODES[mode]:
        want = " or ".join({3: "3-D (N, C, L)", 4: "4-D (N, C, H, W)"}[d] for d in _MODES[mode])
        other = {3: "; for an (N, C, L) input use mode='linear'",
                 4: "; for an (N, C, H, W) input use mode='bilinear'"}
        raise ValueError(f"{layer}: expected a {want} input, got a {x.ndim}-D input of shape "
                         f"{tuple(x.shape)}{other.get(x.ndim, '') if mode != 'nearest' else ''}")
    x = _float_input(x, layer)
    out_size, scales = _output_size(layer, x.shape[2:], size, scale_factor,
                                    recompute_scale_factor)
    if mode == "nearest":
        return InterpolateNearest.apply(x, out_size=out_size, scales=scales)
    if mode == "bicubic":
        return InterpolateBicubic.apply(x, out_size=out_size, scales=scales,
                                        align_corners=bool(align_corners))
    return InterpolateBilinear.apply(x, out_size=out_size, scales=scales,
                                     align_corners=bool(align_corners))


def upsample_nearest(input, size=None, scale_factor=None):
    """PyTorch's deprecated alias: interpolate(input, size, scale_factor, mode='nearest')."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """PyTorch's deprecated alias, which (unlike interpolate's default) aligns corners:
    interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def bed_of_nails(input, scale_factor=2):
    """"Bed of nails" upsampling (deck 004, 업샘플링 / 언풀링 slide): zero insertion.

    (N, C, H, W) -> (N, C, s*H, s*W): input pixel (h, w) lands at (s*h, s*w), the top-left
    corner of its s x s block, and the other s*s - 1 pixels of the block are 0. The deck's
    example, s = 2::

        [[1, 2],        [[1, 0, 2, 0],
         [3, 4]]   ->    [0, 0, 0, 0],
                         [3, 0, 4, 0],
                         [0, 0, 0, 0]]

    It is max unpooling with every index pointing at the corner, and what a transposed
    convolution with stride s does to its input before the kernel is applied. scale_factor is
    a positive int or an (sh, sw) pair. PyTorch has no such function.
    """
    layer = f"bed_of_nails(scale_factor={scale_factor!r})"
    factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
    if len(factors) != 2 or not all(
            _is_int(f) or (isinstance(f, float) and f.is_integer()) for f in factors):
        raise TypeError(f"{layer}: scale_factor must be a positive int or a pair of them (each "
                        f"pixel becomes a whole s x s block)")
    factors = tuple(int(f) for f in factors)
    if min(factors) < 1:
        raise ValueError(f"{layer}: scale_factor must be >= 1, got {factors}")
    x = as_tensor(input)
    if x.ndim != 4:
        raise ValueError(f"{layer}: expected a 4-D (N, C, H, W) input, got a {x.ndim}-D input "
                         f"of shape {tuple(x.shape)}")
    x = _float_input(x, layer)
    return BedOfNails.apply(x, factor=factors)
