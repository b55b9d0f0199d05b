"""Joint transforms: the image, its boxes and its masks move together, in the shape of
torchvision.transforms.v2.

    from scratchnet.data import transforms_v2 as T2
    train_tf = T2.Compose([T2.RandomHorizontalFlip(), T2.ScaleJitter((64, 64)),
                           T2.RandomCrop(48), T2.SanitizeBoundingBoxes(),
                           T2.ColorJitter(brightness=0.3)])
    image, target = train_tf(image, target)    # as DigitScenes, Nuclei, VOC/COCO give them
    image = train_tf(image)                     # an image alone works too

`scratchnet.data.transforms` (classification: one image in, one image out) is unchanged;
this module is for detection and segmentation, where a sample is (image, target):

    image            (C, H, W) ndarray or Tensor (ToImage turns an (H, W, C) uint8 photo into it)
    target["boxes"]  (K, 4) xyxy in pixel-edge coordinates (an H x W image spans [0, W] x [0, H])
    target["masks"]  (K, H, W) instance masks;  target["semantic"] (H, W) class map
    per-object fields (labels, difficult, iscrowd, area) follow their boxes when
    SanitizeBoundingBoxes drops some; any other key is passed through untouched.

Geometric transforms move every one of these; masks are always resized with nearest
neighbour (a class index or an instance id must never be blended). Photometric transforms
change only the image. As in torchvision, a crop clamps boxes to the new borders but keeps
them even when nothing is left of them; SanitizeBoundingBoxes then drops the degenerate ones
(and their labels and masks), so a crop followed by it always leaves valid boxes.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..shapes import pair
from . import transforms as _t
from ._generator import draw_from, own_generator

__all__ = ["Compose", "ToImage", "ToDtype", "RandomHorizontalFlip", "Resize", "RandomCrop",
           "ScaleJitter", "SanitizeBoundingBoxes", "ColorJitter", "Normalize", "hflip",
           "resize", "crop", "resize_nearest", "PER_OBJECT_KEYS"]

PER_OBJECT_KEYS = ("boxes", "labels", "masks", "difficult", "iscrowd", "area")
MASK_KEYS = ("masks", "semantic")


def _split(image):
    return (image.data, True) if isinstance(image, Tensor) else (np.asarray(image), False)


def _check_image(a, who):
    if a.ndim < 2:
        raise ValueError(f"{who}: expects an image (C, H, W) or (H, W), got shape {a.shape}")


def _map_target(target, fn_boxes, fn_mask):
    """A copy of target with boxes and masks mapped; other entries kept as they are."""
    if target is None:
        return None
    out = dict(target)
    if "boxes" in out:
        out["boxes"] = fn_boxes(np.asarray(out["boxes"], dtype=np.float32).reshape(-1, 4))
    for key in MASK_KEYS:
        if key in out:
            out[key] = fn_mask(np.asarray(out[key]))
    return out


def _result(image, target, given_target):
    return (image, target) if given_target else image


def resize_nearest(mask, size):
    """Nearest-neighbour resize of the last two axes, PyTorch's mode="nearest": output pixel
    o takes input pixel floor(o * in / out). Any dtype; (..., H, W) -> (..., H', W')."""
    mask = np.asarray(mask)
    h, w = mask.shape[-2:]
    out_h, out_w = size
    rows = np.minimum(np.floor(np.arange(out_h) * (h / out_h)).astype(np.int64), h - 1)
    cols = np.minimum(np.floor(np.arange(out_w) * (w / out_w)).astype(np.int64), w - 1)
    return mask[..., rows[:, None], cols[None, :]]


def hflip(image, target=None):
    """Mirror left-right: x -> W - x for box edges, so [x1, x2] becomes [W - x2, W - x1]."""
    a, was_tensor = _split(image)
    _check_image(a, "hflip")
    w = a.shape[-1]

    def boxes(b):
        return np.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], axis=1)

    out = np.ascontiguousarray(a[..., ::-1])
    return (Tensor(out) if was_tensor else out), _map_target(
        target, boxes, lambda m: np.ascontiguousarray(m[..., ::-1]))


def resize(image, target, size):
    """Resize to size = (H', W'): the image bilinearly (scratchnet.data.transforms.resize, no
    antialiasing), masks with nearest neighbour, box x by W'/W and y by H'/H."""
    a, was_tensor = _split(image)
    _check_image(a, "Resize")
    h, w = a.shape[-2:]
    out_h, out_w = size
    out = _t.resize(a, (out_h, out_w))
    sx, sy = np.float32(out_w / w), np.float32(out_h / h)
    scale = np.array([sx, sy, sx, sy], np.float32)
    return (Tensor(out) if was_tensor else out), _map_target(
        target, lambda b: b * scale, lambda m: resize_nearest(m, (out_h, out_w)))


def crop(image, target, top, left, height, width):
    """Cut the window rows top..top+height-1, columns left..left+width-1: boxes shift by
    (-left, -top) and are clamped to [0, width] x [0, height] (torchvision's
    clamp_bounding_boxes); boxes that end up empty are kept (see SanitizeBoundingBoxes)."""
    a, was_tensor = _split(image)
    _check_image(a, "crop")
    h, w = a.shape[-2:]
    if not (0 <= top and 0 <= left and height >= 1 and width >= 1
            and top + height <= h and left + width <= w):
        raise ValueError(f"crop: the window top={top}, left={left}, {height}x{width} does not "
                         f"fit in the {h}x{w} image (needs top + height <= {h} and "
                         f"left + width <= {w})")

    def boxes(b):
        b = b - np.array([left, top, left, top], np.float32)
        return np.clip(b, 0, np.array([width, height, width, height], np.float32))

    out = a[..., top:top + height, left:left + width].copy()
    return (Tensor(out) if was_tensor else out), _map_target(
        target, boxes, lambda m: m[..., top:top + height, left:left + width].copy())


class Transform:
    """A joint transform: t(image) -> image, t(image, target) -> (image, target)."""

    def __call__(self, image, target=None):
        out_image, out_target = self.forward(image, target)
        return _result(out_image, out_target, target is not None)

    def forward(self, image, target):
        raise NotImplementedError

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                           if not k.startswith("_") and k != "generator")
        return f"{type(self).__name__}({fields})"


class Compose(Transform):
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def forward(self, image, target):
        for t in self.transforms:
            out = t(image, target) if target is not None else (t(image), None)
            image, target = out
        return image, target

    def __repr__(self):
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class ToImage(Transform):
    """An (H, W, C) or (H, W) ndarray photo (what the VOC/COCO loaders give) -> (C, H, W) of
    the same dtype, as torchvision's ToImage does with arrays; a Tensor is taken to be
    (C, H, W) already. Targets are in pixel coordinates and need no change."""

    def forward(self, image, target):
        if isinstance(image, Tensor):
            return image, target
        a = np.asarray(image)
        if a.ndim == 2:
            return a[None].copy(), target
        if a.ndim != 3:
            raise ValueError(f"ToImage: expects an (H, W, C) or (H, W) array, got shape "
                             f"{a.shape}")
        return np.ascontiguousarray(a.transpose(2, 0, 1)), target


class ToDtype(Transform):
    """Cast the image; scale=True maps uint8 0..255 to float 0..1, as torchvision's
    ToDtype(torch.float32, scale=True). Targets are untouched."""

    def __init__(self, dtype=np.float32, scale=False):
        self.dtype, self.scale = np.dtype(dtype), bool(scale)

    def forward(self, image, target):
        a, was_tensor = _split(image)
        out = a.astype(self.dtype)
        if self.scale and a.dtype == np.uint8 and self.dtype.kind == "f":
            out /= self.dtype.type(255)
        return (Tensor(out) if was_tensor else out), target


class RandomHorizontalFlip(Transform):
    """Flip image, boxes and masks left-right with probability p."""

    def __init__(self, p=0.5, generator=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.generator = own_generator(generator, "RandomHorizontalFlip")

    def forward(self, image, target):
        if draw_from(self.generator).random() < self.p:
            return hflip(image, target)
        return image, target


def _output_size(h, w, size, max_size, who):
    """torchvision's Resize size rule: an int sets the shorter edge (the longer one keeps the
    aspect ratio, truncated), an (h, w) pair sets both."""
    if isinstance(size, (tuple, list)):
        return pair(tuple(size), "size", who, minimum=1)
    short, long = (h, w) if h <= w else (w, h)
    new_short, new_long = int(size), int(size * long / short)
    if max_size is not None and new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), int(max_size)
    return (new_short, new_long) if h <= w else (new_long, new_short)


class Resize(Transform):
    """Resize image (bilinear), masks (nearest) and boxes.

    size: (H', W'), or an int for the shorter edge (then max_size caps the longer one), as
    torchvision.transforms.v2.Resize.
    """

    def __init__(self, size, max_size=None):
        if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
            if size < 1:
                raise ValueError(f"Resize: size must be positive, got {size}")
        else:
            pair(tuple(size), "size", "Resize", minimum=1)
        self.size, self.max_size = size, max_size

    def forward(self, image, target):
        a, _ = _split(image)
        return resize(image, target, _output_size(*a.shape[-2:], self.size, self.max_size,
                                                  "Resize"))


class RandomCrop(Transform):
    """A random size = (h, w) window (an int for a square), uniform over the positions, as
    torchvision's RandomCrop: top in 0..H-h, left in 0..W-w. Boxes are shifted and clamped
    (follow it with SanitizeBoundingBoxes to drop the ones the crop left empty)."""

    def __init__(self, size, generator=None):
        self.size = pair(size, "size", "RandomCrop", minimum=1)
        self.generator = own_generator(generator, "RandomCrop")

    def get_params(self, h, w):
        th, tw = self.size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: the crop {th}x{tw} is larger than the {h}x{w} "
                             f"image; resize first (e.g. ScaleJitter or Resize)")
        g = draw_from(self.generator)
        return int(g.integers(0, h - th + 1)), int(g.integers(0, w - tw + 1)), th, tw

    def forward(self, image, target):
        a, _ = _split(image)
        return crop(image, target, *self.get_params(*a.shape[-2:]))


class ScaleJitter(Transform):
    """Large scale jitter (Ghiasi et al. 2021, torchvision's ScaleJitter): resize by
    r * min(target_h / H, target_w / W) with r uniform in scale_range, output side
    int(side * scale) (truncated), image bilinear, masks nearest, boxes scaled."""

    def __init__(self, target_size, scale_range=(0.1, 2.0), generator=None):
        self.target_size = pair(target_size, "target_size", "ScaleJitter", minimum=1)
        lo, hi = scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"ScaleJitter: scale_range must be 0 < lo <= hi, got "
                             f"{scale_range}")
        self.scale_range = (float(lo), float(hi))
        self.generator = own_generator(generator, "ScaleJitter")

    def forward(self, image, target):
        a, _ = _split(image)
        h, w = a.shape[-2:]
        lo, hi = self.scale_range
        r = lo + draw_from(self.generator).random() * (hi - lo)
        s = min(self.target_size[0] / h, self.target_size[1] / w) * r
        return resize(image, target, (max(1, int(h * s)), max(1, int(w * s))))


class SanitizeBoundingBoxes(Transform):
    """Drop boxes narrower or lower than min_size or with area below min_area (torchvision's
    defaults: 1 and 1), together with their entries in every per-object field
    (PER_OBJECT_KEYS: labels, masks, difficult, iscrowd, area). The class map is per pixel
    and stays."""

    def __init__(self, min_size=1.0, min_area=1.0):
        self.min_size, self.min_area = float(min_size), float(min_area)

    def forward(self, image, target):
        if target is None or "boxes" not in target:
            raise ValueError("SanitizeBoundingBoxes: needs a target dict with 'boxes'")
        b = np.asarray(target["boxes"], np.float32).reshape(-1, 4)
        ws, hs = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        keep = (ws >= self.min_size) & (hs >= self.min_size) & (ws * hs >= self.min_area)
        out = dict(target)
        for key in PER_OBJECT_KEYS:
            if key in out:
                value = np.asarray(out[key])
                if len(value) != len(b):
                    raise ValueError(f"SanitizeBoundingBoxes: target[{key!r}] has {len(value)} "
                                     f"entries for {len(b)} boxes")
                out[key] = value[keep]
        return image, out


class ColorJitter(Transform):
    """Photometric change of the image only (brightness, contrast, saturation as
    scratchnet.data.transforms.ColorJitter); boxes and masks are untouched."""

    def __init__(self, brightness=0, contrast=0, saturation=0, generator=None):
        self._jitter = _t.ColorJitter(brightness, contrast, saturation, generator=generator)
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation

    def forward(self, image, target):
        return self._jitter(image), target


class Normalize(Transform):
    """(image - mean) / std per channel, the image only."""

    def __init__(self, mean, std):
        self._normalize = _t.Normalize(mean, std)
        self.mean, self.std = mean, std

    def forward(self, image, target):
        return self._normalize(image), target
