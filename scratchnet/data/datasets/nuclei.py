"""Nuclei: the real fluorescence microscopy image with 125 hand-labelled nuclei that the
stardist wheel ships (from the 2018 Data Science Bowl, stage 1 training set, CC0), cut into
crops, with semantic masks, instance masks and boxes derived from the label image.

    train = Nuclei("train")                   # 64x64 crops
    image, target = train[0]
    image               (1, 64, 64) float32 in [0, 1]: the 512x512 uint16 image mapped from
                        its 1st..99.8th percentile to 0..1, clipped
    target["semantic"]  (64, 64) uint8: 1 nucleus, 0 background
    target["masks"]     (K, 64, 64) bool, one per nucleus (cut at the crop border)
    target["boxes"]     (K, 4) float32 xyxy, pixel edges
    target["labels"]    (K,) int64, all 1

The files are `stardist/data/images/img2d.tif` and `mask2d.tif`, found without importing
stardist (whose import pulls in its deep-learning stack) and read with tifffile. The image is
tiled into non-overlapping crop_size x crop_size crops; a fixed permutation (seed 0) gives 70%
of the tiles to train, 15% to val and the rest to test, so no pixel is in two splits.
split="all" gives every tile in row-major order (crop_size=512: the whole image).
"""
from __future__ import annotations

import functools

import numpy as np

from ..dataset import Dataset, _check_index
from ._targets import boxes_from_masks, masks_from_label_image
from .digit_scenes import _find_package_file

SPLITS = ("train", "val", "test", "all")
IMAGE_SIZE = 512
_MISSING = ("Nuclei reads the nuclei image that the stardist wheel ships, with tifffile: "
            "pip install stardist tifffile  (or: pip install scratchnet[datasets])")


@functools.lru_cache(maxsize=1)
def load_nuclei():
    """(image (512, 512) float32 in [0, 1], instance labels (512, 512) int32, 0 = background)."""
    image_path = _find_package_file("stardist", "data", "images", "img2d.tif")
    mask_path = _find_package_file("stardist", "data", "images", "mask2d.tif")
    try:
        import tifffile
    except ImportError:
        tifffile = None
    if image_path is None or mask_path is None or tifffile is None:
        raise ImportError(_MISSING)
    image = tifffile.imread(image_path).astype(np.float32)
    labels = tifffile.imread(mask_path).astype(np.int32)
    # percentile normalisation, as stardist's examples do: the brightest 0.2% saturate, so the
    # dim nuclei are not lost to a few bright pixels
    lo, hi = np.percentile(image, (1.0, 99.8))
    return np.clip((image - lo) / (hi - lo), 0.0, 1.0).astype(np.float32), labels


def tile_split(n_tiles, split, seed=0):
    """Tile indices (row-major) of `split` in a fixed 70/15/15 permutation of n_tiles."""
    if split == "all":
        return np.arange(n_tiles)
    perm = np.random.default_rng(seed).permutation(n_tiles)
    n_train = round(0.70 * n_tiles)
    n_val = round(0.15 * n_tiles)
    parts = {"train": perm[:n_train], "val": perm[n_train:n_train + n_val],
             "test": perm[n_train + n_val:]}
    return np.sort(parts[split])


class Nuclei(Dataset):
    """Crops of the stardist nuclei image (see the module docstring for the targets).

    split:      "train", "val", "test" (disjoint tiles) or "all"
    crop_size:  tile side; must divide 512 (e.g. 64 -> 64 tiles: 45 / 10 / 9)
    transforms: optional callable (image, target) -> (image, target)
    """

    classes = ["background", "nucleus"]

    def __init__(self, split="train", crop_size=64, transforms=None):
        if split not in SPLITS:
            raise ValueError(f"Nuclei: split must be one of {SPLITS}, got {split!r}")
        if isinstance(crop_size, bool) or not isinstance(crop_size, (int, np.integer)) \
                or crop_size < 1 or IMAGE_SIZE % crop_size:
            raise ValueError(f"Nuclei: crop_size must divide the image side {IMAGE_SIZE} "
                             f"(e.g. 32, 64, 128, 256, 512), got {crop_size!r}")
        self.image, self.labels = load_nuclei()
        self.split, self.crop_size, self.transforms = split, int(crop_size), transforms
        per_row = IMAGE_SIZE // self.crop_size
        self.tiles = [(int(t) // per_row * self.crop_size, int(t) % per_row * self.crop_size)
                      for t in tile_split(per_row * per_row, split)]

    def __len__(self):
        return len(self.tiles)

    def __repr__(self):
        return f"Nuclei({self.split}, {len(self)} crops of {self.crop_size}x{self.crop_size})"

    def __getitem__(self, index):
        i = _check_index(index, len(self), "Nuclei")
        y, x = self.tiles[i]
        c = self.crop_size
        image = self.image[None, y:y + c, x:x + c].copy()
        _, masks = masks_from_label_image(self.labels[y:y + c, x:x + c])
        target = {"boxes": boxes_from_masks(masks),
                  "labels": np.ones(len(masks), np.int64), "masks": masks,
                  "semantic": masks.any(axis=0).astype(np.uint8)}
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target
