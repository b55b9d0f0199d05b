"""Image transforms in NumPy, with torchvision's names and semantics.

    train_tf = Compose([ToTensor(), RandomCrop(32, padding=2), RandomHorizontalFlip(),
                        Normalize((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))])

ToTensor turns an HxW or HxWxC uint8 image (what MNIST and CIFAR10 hand out) into a
(C, H, W) float32 Tensor in [0, 1]; every other transform takes a floating (C, H, W) image,
an ndarray or a Tensor, and returns the same kind. They also accept (..., H, W): leading axes
share one random draw, so the channels of an image move together.

The random ones are the augmentations of deck 003 (rotation, flip, scaling, brightness) and of
the ConvNetJS CIFAR-10 demo in deck 002 (random flips and shifts of up to 2 pixels:
RandomCrop(32, padding=2)). Each takes `generator=` (an int seed or a numpy Generator) and
otherwise draws from the library's generator, so `scratchnet.manual_seed` makes them
reproducible. Transforms are data preparation: they are not recorded in the autograd graph.

Coordinates: a pixel's centre is at its integer index, so an H x W image spans
[-0.5, H - 0.5] x [-0.5, W - 0.5] and its centre is ((H - 1)/2, (W - 1)/2). Bilinear resizing
maps centres to centres (PyTorch's align_corners=False, without antialiasing).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import dtypes
from ..autograd.tensor import Tensor
from ..kernels.upsample import linear_table
from ..shapes import pair
from ._generator import draw_from, own_generator

__all__ = ["Compose", "Lambda", "ToTensor", "Normalize", "Pad", "CenterCrop",
           "RandomHorizontalFlip", "RandomVerticalFlip", "RandomCrop", "Resize",
           "RandomResizedCrop", "RandomRotation", "ColorJitter", "resize", "rotate", "imresize"]


def _image(img, who):
    """(array, was_tensor) of a floating (..., H, W) image, or a teaching error."""
    was_tensor = isinstance(img, Tensor)
    a = img.data if was_tensor else np.asarray(img)
    if a.ndim < 2:
        raise ValueError(f"{who}: expects an image (C, H, W) or (H, W), got shape {a.shape}")
    if a.dtype.kind != "f":
        hint = (" It looks like an HxWxC image:" if a.ndim == 3 and a.shape[-1] in (1, 3, 4)
                else "")
        raise TypeError(f"{who}: expects a floating-point (C, H, W) image, got {a.dtype} of "
                        f"shape {a.shape}.{hint} apply ToTensor() first (it scales 0..255 to "
                        f"0..1 and puts the channels first)")
    return a, was_tensor


def _same_kind(a, was_tensor):
    return Tensor(a) if was_tensor else a


def _fill_plane(a, fill, who):
    """`fill` as an array that broadcasts against (..., H, W): a scalar or one per channel."""
    f = np.asarray(fill, dtype=a.dtype)
    if f.ndim == 0:
        return f
    if f.ndim == 1 and a.ndim >= 3 and f.shape[0] == a.shape[-3]:
        return f[:, None, None]
    raise ValueError(f"{who}: fill must be a number or one value per channel "
                     f"({a.shape[-3] if a.ndim >= 3 else 1}), got {fill!r}")


def _interp_matrix(n_in, n_out, dtype):
    """(n_out, n_in) matrix of a 1-D linear resize: row o holds the two weights of output o.
    The taps and weights are F.interpolate's (kernels/upsample.linear_table, half-pixel
    centres, align_corners=False), so the two resizes cannot drift apart."""
    i0, i1, w0, w1 = linear_table(n_in, n_out, None, False, dtype)
    m = np.zeros((n_out, n_in), dtype=dtype)
    rows = np.arange(n_out)
    np.add.at(m, (rows, i0), w0.astype(dtype))      # at the border i0 == i1: weights add up
    np.add.at(m, (rows, i1), w1.astype(dtype))
    return m


def resize(img, size):
    """Bilinear resize of the last two axes.

    img: (..., H, W) floating array (or Tensor); size: (H', W') or an int for both.
    Returns (..., H', W') of the same dtype. Each output pixel mixes the 4 nearest input
    pixels, weighted by 1 - distance along each axis, which is a linear map applied to rows
    and then to columns: out = R_h @ img @ R_w^T, where R_h is (H', H) with two non-zero
    weights per row (so a NaN pixel spreads along its row and column). Equals
    torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=False);
    downscaling by a large factor therefore aliases.
    """
    a, was_tensor = _image(img, "resize")
    out_h, out_w = pair(size, "size", "resize", minimum=1)
    h, w = a.shape[-2:]
    if (out_h, out_w) == (h, w):
        return _same_kind(a.copy(), was_tensor)
    out = _interp_matrix(h, out_h, a.dtype) @ a @ _interp_matrix(w, out_w, a.dtype).T
    return _same_kind(out, was_tensor)


def _matlab_cubic(x):
    """Keys' cubic with a = -0.5, the kernel of MATLAB's imresize 'bicubic':
    1.5|x|^3 - 2.5|x|^2 + 1 for |x| <= 1, -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2 for 1 < |x| <= 2."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def _imresize_matrix(n_in, n_out, scale, antialias):
    """(n_out, n_in) float64 matrix of MATLAB's 1-D bicubic resize (its `contributions`).

    Output pixel o (1-based, as MATLAB) sits at u = o/scale + (1 - 1/scale)/2 in input
    coordinates. Downscaling with antialiasing widens the kernel to h(x) = scale *
    cubic(scale * x) (4/scale pixels wide), a low-pass filter before sampling. Each row's
    weights are normalised to sum to 1, and taps outside [1, n_in] mirror back
    (1, 2, ..., n, n, n-1, ..., 1: the border pixel repeats once, "symmetric" padding).
    """
    width = 4.0
    if scale < 1 and antialias:
        kernel = lambda x: scale * _matlab_cubic(scale * x)        # noqa: E731
        width = 4.0 / scale
    else:
        kernel = _matlab_cubic
    u = np.arange(1, n_out + 1, dtype=np.float64) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]                 # 1-based input indices
    w = kernel(u[:, None] - idx)
    w /= w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(n_in), np.arange(n_in - 1, -1, -1)])
    idx0 = mirror[np.mod(idx.astype(np.int64) - 1, 2 * n_in)]
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.repeat(np.arange(n_out), taps), idx0.ravel()), w.ravel())
    return m


def imresize(img, scale=None, size=None, antialias=True):
    """MATLAB's imresize(img, scale) with its default 'bicubic' method, on the last two axes.

    img: (..., H, W) floating array (or Tensor); scale: a number (output ceil(H * scale) x
    ceil(W * scale)), or size: (H', W'). Returns (..., H', W') of the same dtype.

    Super-resolution papers (SRCNN, FSRCNN, VDSR) make their low-resolution inputs and their
    bicubic baseline with this function, so the numbers they report assume it. It is not
    `interpolate(mode='bicubic')`:

    - kernel: Keys' cubic with a = -0.5 (interpolate: a = -0.75, PyTorch's and OpenCV's);
    - downscaling with antialias=True (the default, as MATLAB) stretches the kernel by
      1/scale, so every input pixel contributes (interpolate samples 4 x 4 pixels and aliases);
    - border: taps beyond the edge mirror (..., 2, 1 | 1, 2, ...); interpolate clamps to the
      edge pixel;
    - pixel centres: output o sits at o/scale + (1 - 1/scale)/2 (1-based), the same
      half-pixel convention as align_corners=False, and weights are renormalised per pixel.

    MATLAB resizes uint8 images with a rounding to uint8 after each axis; this function works
    in floating point throughout (round and clip once at the end if you need 8-bit pixels),
    so it matches MATLAB on double images, where the order of the axes does not matter.
    """
    a, was_tensor = _image(img, "imresize")
    h, w = a.shape[-2:]
    if (scale is None) == (size is None):
        raise ValueError(f"imresize: give either scale or size, got scale={scale!r}, "
                         f"size={size!r}")
    if scale is not None:
        if not isinstance(scale, numbers.Real) or isinstance(scale, bool) or not scale > 0 \
                or not math.isfinite(scale):
            raise ValueError(f"imresize: scale must be a positive number, got {scale!r}")
        out_h, out_w = int(math.ceil(h * scale)), int(math.ceil(w * scale))
        sh = sw = float(scale)
    else:
        out_h, out_w = pair(size, "size", "imresize", minimum=1)
        sh, sw = out_h / h, out_w / w
    rows = _imresize_matrix(h, out_h, sh, antialias).astype(a.dtype)
    cols = _imresize_matrix(w, out_w, sw, antialias).astype(a.dtype)
    return _same_kind(rows @ a @ cols.T, was_tensor)


def _cos_sin_degrees(angle):
    """cos and sin of `angle` degrees, exact for multiples of 90 (so that a 90-degree
    rotation moves pixels exactly, with no 6e-17 leaking from cos(pi/2))."""
    quarter = angle / 90.0
    if quarter == round(quarter):
        return [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][int(round(quarter)) % 4]
    t = math.radians(angle)
    return math.cos(t), math.sin(t)


def rotate(img, angle, fill=0.0):
    """Rotate the last two axes by `angle` degrees counter-clockwise (as displayed, row 0 at
    the top) about the image centre, sampling bilinearly; pixels that come from outside the
    image take `fill`.

    img: (..., H, W) floating array (or Tensor) -> same shape and dtype.

    Each output pixel (row y', column x'), relative to the centre (cy, cx), reads the input at
        x = cos(a) x' - sin(a) y',   y = sin(a) x' + cos(a) y'
    (the inverse rotation), mixing the 4 nearest pixels; the image is surrounded by `fill`,
    so a point half a pixel outside is half pixel, half fill. rotate(x, 90) equals
    np.rot90(x, 1, axes=(-2, -1)) on a square image.
    """
    a, was_tensor = _image(img, "rotate")
    h, w = a.shape[-2:]
    cos, sin = _cos_sin_degrees(float(angle))
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yo, xo = np.mgrid[0:h, 0:w].astype(np.float64)
    yo -= cy
    xo -= cx
    src_x = cos * xo - sin * yo + cx
    src_y = sin * xo + cos * yo + cy
    # a border of `fill` one pixel wide: every index clipped into [-1, n] reads fill outside
    padded = np.empty(a.shape[:-2] + (h + 2, w + 2), dtype=a.dtype)
    padded[...] = _fill_plane(a, fill, "rotate")
    padded[..., 1:-1, 1:-1] = a
    x0 = np.floor(src_x)
    y0 = np.floor(src_y)
    wx1 = (src_x - x0).astype(a.dtype)
    wy1 = (src_y - y0).astype(a.dtype)
    wx0 = 1 - wx1
    wy0 = 1 - wy1
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    xi0 = np.clip(x0, -1, w) + 1
    xi1 = np.clip(x0 + 1, -1, w) + 1
    yi0 = np.clip(y0, -1, h) + 1
    yi1 = np.clip(y0 + 1, -1, h) + 1
    out = (padded[..., yi0, xi0] * (wy0 * wx0) + padded[..., yi0, xi1] * (wy0 * wx1)
           + padded[..., yi1, xi0] * (wy1 * wx0) + padded[..., yi1, xi1] * (wy1 * wx1))
    return _same_kind(out, was_tensor)


def _pad_amounts(padding, who):
    """(left, top, right, bottom) from torchvision's int / (lr, tb) / (l, t, r, b)."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        p = (int(padding),) * 4
    elif isinstance(padding, (tuple, list)) and len(padding) == 2:
        p = (int(padding[0]), int(padding[1])) * 2
    elif isinstance(padding, (tuple, list)) and len(padding) == 4:
        p = tuple(int(v) for v in padding)
    else:
        raise TypeError(f"{who}: padding must be an int, (left/right, top/bottom) or "
                        f"(left, top, right, bottom), got {padding!r}")
    if min(p) < 0:
        raise ValueError(f"{who}: padding must be non-negative, got {padding!r}")
    return p


_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect",
              "symmetric": "symmetric"}


def _pad(a, amounts, fill, mode, who):
    left, top, right, bottom = amounts
    if not any(amounts):
        return a
    widths = [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)]
    if mode != "constant":
        if mode == "reflect" and (max(top, bottom) >= a.shape[-2]
                                  or max(left, right) >= a.shape[-1]):
            raise ValueError(f"{who}: reflect padding of {amounts} needs an image larger than "
                             f"the padding, got {a.shape[-2]}x{a.shape[-1]}")
        return np.pad(a, widths, mode=_PAD_MODES[mode])
    f = _fill_plane(a, fill, who)
    out = np.empty(a.shape[:-2] + (a.shape[-2] + top + bottom, a.shape[-1] + left + right),
                   dtype=a.dtype)
    out[...] = f
    out[..., top:top + a.shape[-2], left:left + a.shape[-1]] = a
    return out


class Transform:
    """Base class: a callable image -> image with a readable repr."""

    def _fields(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._fields().items())
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply transforms in order: Compose([f, g])(x) = g(f(x))."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got "
                                f"{type(t).__name__}")

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class Lambda(Transform):
    """Wrap a function as a transform."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"Lambda: fn must be callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, img):
        return self.fn(img)


class ToTensor(Transform):
    """HxWxC (or HxW) image -> (C, H, W) Tensor, as torchvision's ToTensor.

    uint8 pixels 0..255 become the default float dtype (float32) divided by 255, so they lie
    in [0, 1]; other dtypes are only moved to channels-first. Accepts ndarrays and anything
    np.asarray understands (a PIL image, for instance).
    """

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            raise TypeError("ToTensor: expects an HxWxC or HxW image array, got a Tensor "
                            "(it is already converted)")
        a = np.asarray(pic)
        if a.ndim == 2:
            a = a[None, :, :]
        elif a.ndim == 3:
            a = a.transpose(2, 0, 1)
        else:
            raise ValueError(f"ToTensor: expects an HxW or HxWxC image, got shape {a.shape}")
        if a.dtype == np.uint8:
            dt = dtypes.get_default_dtype()
            return Tensor(a.astype(dt) / dt.type(255))
        return Tensor(np.ascontiguousarray(a))


class Normalize(Transform):
    """Per-channel standardisation: out[c] = (img[c] - mean[c]) / std[c].

    (C, H, W) -> (C, H, W). mean and std are sequences of C numbers (or one number for all
    channels), usually the training set's channel means and standard deviations.
    """

    def __init__(self, mean, std, inplace=False):
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError(f"Normalize: mean and std must be numbers or sequences, got "
                             f"{mean!r} and {std!r}")
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std contains a zero ({std!r}); dividing by it "
                             f"would give inf")
        self.inplace = inplace

    def _fields(self):
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    def __call__(self, img):
        a, was_tensor = _image(img, "Normalize")
        c = a.shape[-3] if a.ndim >= 3 else 1
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, c):
                raise ValueError(f"Normalize: the image has {c} channel(s) (shape {a.shape}) "
                                 f"but {name} has {v.size} values")
        shape = (-1, 1, 1) if a.ndim >= 3 else (-1, 1)
        mean = self.mean.astype(a.dtype).reshape(shape)
        std = self.std.astype(a.dtype).reshape(shape)
        if self.inplace:
            a -= mean
            a /= std
            return img
        return _same_kind((a - mean) / std, was_tensor)


class Pad(Transform):
    """Pad the borders: (C, H, W) -> (C, top + H + bottom, left + W + right).

    padding: an int for all sides, (left/right, top/bottom), or (left, top, right, bottom).
    padding_mode: "constant" (with `fill`, a number or one per channel), "edge", "reflect"
    (mirror without repeating the edge) or "symmetric" (mirror repeating it).
    """

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding = _pad_amounts(padding, "Pad")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"Pad: padding_mode must be one of {sorted(_PAD_MODES)}, got "
                             f"{padding_mode!r}")
        self.fill = fill
        self.padding_mode = padding_mode

    def _fields(self):
        return {"padding": self.padding, "fill": self.fill, "padding_mode": self.padding_mode}

    def __call__(self, img):
        a, was_tensor = _image(img, "Pad")
        return _same_kind(_pad(a, self.padding, self.fill, self.padding_mode, "Pad"),
                          was_tensor)


def _crop(a, top, left, h, w):
    return a[..., top:top + h, left:left + w].copy()


class CenterCrop(Transform):
    """The central (h, w) window: (C, H, W) -> (C, h, w); top = round((H - h)/2), and the same
    for left, as torchvision. The image must be at least the crop size."""

    def __init__(self, size):
        self.size = pair(size, "size", "CenterCrop", minimum=1)

    def _fields(self):
        return {"size": self.size}

    def __call__(self, img):
        a, was_tensor = _image(img, "CenterCrop")
        (h, w), (th, tw) = a.shape[-2:], self.size
        if th > h or tw > w:
            raise ValueError(f"CenterCrop(size={self.size}): the image is {h}x{w}, smaller "
                             f"than the crop; pad it first (Pad) or choose a smaller size")
        top = int(round((h - th) / 2.0))
        left = int(round((w - tw) / 2.0))
        return _same_kind(_crop(a, top, left, th, tw), was_tensor)


class RandomHorizontalFlip(Transform):
    """Mirror left-right (reverse the W axis) with probability p."""

    def __init__(self, p=0.5, generator=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must lie in [0, 1], got {p}")
        self.p = float(p)
        self.generator = own_generator(generator, "RandomHorizontalFlip")

    def _fields(self):
        return {"p": self.p}

    def __call__(self, img):
        a, was_tensor = _image(img, type(self).__name__)
        if draw_from(self.generator).random() < self.p:
            a = self._flip(a)
        return _same_kind(a, was_tensor)

    @staticmethod
    def _flip(a):
        return a[..., ::-1].copy()


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom (reverse the H axis) with probability p."""

    @staticmethod
    def _flip(a):
        return a[..., ::-1, :].copy()


class RandomCrop(Transform):
    """A random (h, w) window, after optional padding: (C, H, W) -> (C, h, w).

    The window's top-left corner is uniform over every position that fits: top in
    [0, H + pads - h], left in [0, W + pads - w]. RandomCrop(32, padding=2) on a 32x32 image
    is the ConvNetJS demo's "random shifts by up to 2px horizontally and vertically" (deck 002):
    the content moves by -2..2 pixels and zeros fill in.

    padding / fill / padding_mode: as in Pad, applied before cropping.
    pad_if_needed: pad an image smaller than the crop (by the shortfall on both sides).
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant",
                 generator=None):
        self.size = pair(size, "size", "RandomCrop", minimum=1)
        self.padding = _pad_amounts(padding, "RandomCrop") if padding is not None else None
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {sorted(_PAD_MODES)}, "
                             f"got {padding_mode!r}")
        self.pad_if_needed = bool(pad_if_needed)
        self.fill = fill
        self.padding_mode = padding_mode
        self.generator = own_generator(generator, "RandomCrop")

    def _fields(self):
        return {"size": self.size, "padding": self.padding}

    @staticmethod
    def get_params(image_size, output_size, generator=None):
        """(top, left, h, w) of a uniformly random window of `output_size` inside an image of
        `image_size` (h, w), drawn from `generator` (else the library's)."""
        (h, w), (th, tw) = image_size, output_size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: the crop {th}x{tw} is larger than the (padded) "
                             f"image {h}x{w}; pass a larger padding or pad_if_needed=True")
        g = draw_from(generator)
        top = int(g.integers(0, h - th + 1))
        left = int(g.integers(0, w - tw + 1))
        return top, left, th, tw

    def __call__(self, img):
        a, was_tensor = _image(img, "RandomCrop")
        if self.padding is not None:
            a = _pad(a, self.padding, self.fill, self.padding_mode, "RandomCrop")
        th, tw = self.size
        if self.pad_if_needed:
            dw = max(tw - a.shape[-1], 0)
            dh = max(th - a.shape[-2], 0)
            a = _pad(a, (dw, dh, dw, dh), self.fill, self.padding_mode, "RandomCrop")
        top, left, h, w = self.get_params(a.shape[-2:], self.size, self.generator)
        return _same_kind(_crop(a, top, left, h, w), was_tensor)


class Resize(Transform):
    """Bilinear resize: (C, H, W) -> (C, H', W').

    size: (H', W'), or an int: the shorter side becomes `size` and the other keeps the aspect
    ratio (floor(size * long / short)), as torchvision.
    """

    def __init__(self, size):
        if isinstance(size, numbers.Integral) and not isinstance(size, bool):
            if size < 1:
                raise ValueError(f"Resize: size must be positive, got {size}")
            self.size = int(size)
        else:
            self.size = pair(size, "size", "Resize", minimum=1)

    def _fields(self):
        return {"size": self.size}

    def output_size(self, h, w):
        if isinstance(self.size, tuple):
            return self.size
        if h <= w:
            return self.size, int(self.size * w / h)
        return int(self.size * h / w), self.size

    def __call__(self, img):
        a, was_tensor = _image(img, "Resize")
        return _same_kind(resize(a, self.output_size(*a.shape[-2:])), was_tensor)


class RandomResizedCrop(Transform):
    """A random crop of random area and aspect ratio, resized to `size` (scale augmentation):
    (C, H, W) -> (C, h, w).

    As torchvision: up to 10 tries draw an area fraction from U(scale) and a log-uniform
    aspect ratio w/h from `ratio`; the first window that fits is placed uniformly at random.
    If none fits, the whole image is used, centre-cropped to the nearest allowed ratio.
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), generator=None):
        self.size = pair(size, "size", "RandomResizedCrop", minimum=1)
        scale = tuple(float(s) for s in scale)
        ratio = tuple(float(r) for r in ratio)
        if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
            raise ValueError(f"RandomResizedCrop: scale must be (min, max) with "
                             f"0 < min <= max, got {scale}")
        if len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"RandomResizedCrop: ratio must be (min, max) with "
                             f"0 < min <= max, got {ratio}")
        self.scale, self.ratio = scale, ratio
        self.generator = own_generator(generator, "RandomResizedCrop")

    def _fields(self):
        return {"size": self.size, "scale": self.scale, "ratio": self.ratio}

    @staticmethod
    def get_params(image_size, scale, ratio, generator=None):
        """(top, left, h, w) of the window to crop from an image of `image_size` (h, w)."""
        height, width = image_size
        area = height * width
        g = draw_from(generator)
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * g.uniform(scale[0], scale[1])
            aspect = math.exp(g.uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = int(g.integers(0, height - h + 1))
                left = int(g.integers(0, width - w + 1))
                return top, left, h, w
        in_ratio = width / height
        if in_ratio < ratio[0]:
            w, h = width, int(round(width / ratio[0]))
        elif in_ratio > ratio[1]:
            h, w = height, int(round(height * ratio[1]))
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        a, was_tensor = _image(img, "RandomResizedCrop")
        top, left, h, w = self.get_params(a.shape[-2:], self.scale, self.ratio, self.generator)
        return _same_kind(resize(_crop(a, top, left, h, w), self.size), was_tensor)


class RandomRotation(Transform):
    """Rotate by a random angle drawn uniformly from [-degrees, degrees] (or [lo, hi]),
    counter-clockwise about the centre, bilinear, `fill` outside: (C, H, W) -> (C, H, W).
    See `rotate` for the sampling."""

    def __init__(self, degrees, fill=0.0, generator=None):
        if isinstance(degrees, numbers.Real):
            if degrees < 0:
                raise ValueError(f"RandomRotation: a single number of degrees must be "
                                 f"non-negative, got {degrees}")
            self.degrees = (-float(degrees), float(degrees))
        elif isinstance(degrees, (tuple, list)) and len(degrees) == 2 \
                and degrees[0] <= degrees[1]:
            self.degrees = (float(degrees[0]), float(degrees[1]))
        else:
            raise ValueError(f"RandomRotation: degrees must be a number or (lo, hi) with "
                             f"lo <= hi, got {degrees!r}")
        self.fill = fill
        self.generator = own_generator(generator, "RandomRotation")

    def _fields(self):
        return {"degrees": self.degrees, "fill": self.fill}

    def get_params(self):
        return float(draw_from(self.generator).uniform(*self.degrees))

    def __call__(self, img):
        a, was_tensor = _image(img, "RandomRotation")
        return _same_kind(rotate(a, self.get_params(), self.fill), was_tensor)


def _grayscale(a):
    """ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B of (..., 3, H, W) -> (..., 1, H, W)."""
    wts = np.array([0.299, 0.587, 0.114], dtype=a.dtype).reshape(3, 1, 1)
    return (a * wts).sum(axis=-3, keepdims=True)


def _jitter_range(value, name, center=1.0):
    if isinstance(value, numbers.Real):
        if value < 0:
            raise ValueError(f"ColorJitter: {name} must be non-negative, got {value}")
        lo, hi = max(center - value, 0.0), center + value
    elif isinstance(value, (tuple, list)) and len(value) == 2 and 0 <= value[0] <= value[1]:
        lo, hi = float(value[0]), float(value[1])
    else:
        raise ValueError(f"ColorJitter: {name} must be a number or (min, max) with "
                         f"0 <= min <= max, got {value!r}")
    return None if lo == hi == center else (float(lo), float(hi))


class ColorJitter(Transform):
    """Random brightness, contrast and saturation changes of a float image in [0, 1]; apply
    it before Normalize. (C, H, W) -> (C, H, W), clipped to [0, 1].

    Each given amount b picks a factor f uniformly from [max(0, 1 - b), 1 + b] (or from a
    (min, max) pair), and the three adjustments run in a random order, as in torchvision:
      brightness  f * img                                  (f = 0: black)
      contrast    f * img + (1 - f) * mean(gray(img))      (f = 0: flat grey)
      saturation  f * img + (1 - f) * gray(img)            (f = 0: grayscale; RGB only)
    where gray is the luma 0.299 R + 0.587 G + 0.114 B (the channel itself for one channel).
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, generator=None):
        self.brightness = _jitter_range(brightness, "brightness")
        self.contrast = _jitter_range(contrast, "contrast")
        self.saturation = _jitter_range(saturation, "saturation")
        self.generator = own_generator(generator, "ColorJitter")

    def _fields(self):
        return {"brightness": self.brightness, "contrast": self.contrast,
                "saturation": self.saturation}

    @staticmethod
    def _gray(a):
        return _grayscale(a) if a.ndim >= 3 and a.shape[-3] == 3 else a

    def __call__(self, img):
        a, was_tensor = _image(img, "ColorJitter")
        g = draw_from(self.generator)
        out = a
        for which in g.permutation(3):
            rng = (self.brightness, self.contrast, self.saturation)[which]
            if rng is None:
                continue
            f = a.dtype.type(g.uniform(*rng))
            if which == 0:
                out = out * f
            elif which == 1:
                mean = self._gray(out).mean(axis=(-3, -2, -1) if out.ndim >= 3 else (-2, -1),
                                            keepdims=True)
                out = f * out + (1 - f) * mean
            elif out.ndim >= 3 and out.shape[-3] == 3:
                out = f * out + (1 - f) * _grayscale(out)
            out = np.clip(out, 0, 1).astype(a.dtype, copy=False)
        if out is a:
            out = a.copy()
        return _same_kind(out, was_tensor)
