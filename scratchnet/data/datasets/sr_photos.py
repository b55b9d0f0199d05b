"""Super-resolution data from scikit-image's bundled photos (no download).

    train = SRPatches(scale=3, upscaled=True)     x (1, 33, 33) bicubic, y (1, 33, 33) HR
    train = SRPatches(scale=3, upscaled=False)    x (1, 11, 11) LR,      y (1, 33, 33) HR
    test = held_out(scale=3)                      five SRImage (hr, lr, bicubic) on Y

The protocol of SRCNN, FSRCNN and VDSR: work on the luminance Y (BT.601, as MATLAB's
rgb2ycbcr; grey photos are their own Y), crop the high-resolution image to a multiple of the
scale, make the low-resolution input with MATLAB's antialiased bicubic `imresize(hr, 1/scale)`
and the bicubic baseline with `imresize(lr, scale)`. Pixels are float32 in [0, 1].

The five held-out photos play Set5's part (astronaut, camera, coffee, chelsea, rocket) and are
never cut into training patches; `cat` is skipped too, being the same photo as `chelsea`.
Training patches are cut on a grid aligned with the low-resolution pixels from the other
real photos; flat patches (standard deviation of the HR patch below `min_std`, e.g. the
black sky of the moon and of the Hubble field) teach nothing about edges and are left out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...autograd.tensor import Tensor
from ..dataset import Dataset
from ..transforms import imresize

TEST_PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket")
TRAIN_PHOTOS = ("brick", "cell", "clock", "coins", "grass", "gravel", "hubble_deep_field",
                "immunohistochemistry", "moon", "page", "retina", "text",
                "motorcycle_left", "motorcycle_right")


def _skimage_photo(name):
    try:
        from skimage import data
    except ImportError as e:
        raise ImportError("the super-resolution photos come with scikit-image: pip install "
                          "scikit-image (or scratchnet[datasets])") from e
    if name.startswith("motorcycle_"):
        left, right, _ = data.stereo_motorcycle()
        return left if name.endswith("left") else right
    return getattr(data, name)()


def photo_y(name):
    """The luminance of a bundled photo: (H, W) float32 in [0, 1]."""
    from ...metrics.image import rgb_to_y

    a = np.asarray(_skimage_photo(name))
    a = a.astype(np.float64) / (255.0 if a.dtype == np.uint8 else 1.0)
    if a.ndim == 3:
        a = rgb_to_y(np.moveaxis(a[..., :3], -1, 0))
    return a.astype(np.float32)


def modcrop(img, scale):
    """Crop the last two axes to multiples of `scale` (the bottom and right rows go)."""
    h, w = img.shape[-2:]
    return img[..., :h - h % scale, :w - w % scale]


def degrade(hr, scale):
    """(lr, bicubic) of a modcropped (..., H, W) image: lr (..., H/s, W/s) by imresize(hr,
    1/s), bicubic (..., H, W) by imresize(lr, s), both float in hr's dtype."""
    lr = imresize(hr, scale=1.0 / scale)
    return lr, imresize(lr, scale=scale)


@dataclass
class SRImage:
    """One held-out photo at one scale: hr and bicubic (H, W), lr (H/s, W/s), Y in [0, 1]."""
    name: str
    hr: np.ndarray
    lr: np.ndarray
    bicubic: np.ndarray


def held_out(scale=3, crop=None, names=TEST_PHOTOS):
    """The held-out photos, each modcropped (and centre-cropped to crop x crop HR pixels, a
    multiple of scale, when `crop` is given), degraded at `scale`."""
    out = []
    for name in names:
        hr = modcrop(photo_y(name), scale)
        if crop:
            c = crop - crop % scale
            top = (hr.shape[0] - c) // 2 // scale * scale
            left = (hr.shape[1] - c) // 2 // scale * scale
            hr = hr[top:top + c, left:left + c]
        lr, bic = degrade(hr, scale)
        out.append(SRImage(name, hr, lr, bic))
    return out


class SRPatches(Dataset):
    """Aligned training patches: x is the LR patch (1, p, p) (upscaled=False, for FSRCNN) or
    its bicubic upscaling (1, s*p, s*p) (upscaled=True, SRCNN and VDSR), y the HR patch
    (1, s*p, s*p). p = lr_patch (11 at x3 gives SRCNN's 33 x 33 sub-images); neighbouring
    patches are `lr_stride` LR pixels apart. `flip` adds each patch's mirror image.
    """

    def __init__(self, scale=3, lr_patch=11, lr_stride=5, upscaled=True, photos=TRAIN_PHOTOS,
                 min_std=0.02, flip=True):
        overlap = set(photos) & set(TEST_PHOTOS + ("cat",))
        if overlap:
            raise ValueError(f"SRPatches: {sorted(overlap)} belong to the held-out set "
                             f"{TEST_PHOTOS} (cat is chelsea); training on them would "
                             f"measure memory, not super-resolution")
        self.scale, self.lr_patch, self.upscaled, self.flip = scale, lr_patch, upscaled, flip
        self.images = []          # (hr, lr, bicubic) per photo
        where = []
        P = lr_patch * scale
        for k, name in enumerate(photos):
            hr = modcrop(photo_y(name), scale)
            lr, bic = degrade(hr, scale)
            self.images.append((hr, lr, bic))
            for i in range(0, lr.shape[0] - lr_patch + 1, lr_stride):
                for j in range(0, lr.shape[1] - lr_patch + 1, lr_stride):
                    if hr[i * scale:i * scale + P, j * scale:j * scale + P].std() >= min_std:
                        where.append((k, i, j))
        self.where = np.array(where, dtype=np.int64).reshape(-1, 3)

    def __len__(self):
        return len(self.where) * (2 if self.flip else 1)

    def _cut(self, index):
        k, i, j = self.where[index % len(self.where)]
        hr, lr, bic = self.images[k]
        p, s = self.lr_patch, self.scale
        y = hr[i * s:(i + p) * s, j * s:(j + p) * s]
        x = bic[i * s:(i + p) * s, j * s:(j + p) * s] if self.upscaled \
            else lr[i:i + p, j:j + p]
        if index >= len(self.where):
            x, y = x[:, ::-1], y[:, ::-1]
        return x[None], y[None]

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"SRPatches: index {index} out of range for {len(self)} patches")
        return self._cut(index % len(self))

    def get_batch(self, indices):
        xs, ys = zip(*(self._cut(int(i)) for i in indices))
        return Tensor(np.stack(xs)), Tensor(np.stack(ys))
