"""Real handwritten digits that need no download: scikit-learn's 1,797 8x8 scans (UCI
"Optical Recognition of Handwritten Digits"), enlarged to LeNet-5's 32x32 input.

    train, test = digits("train"), digits("test")
    x, y = train[0]             # x (1, 32, 32) float32 in [0, 1], y an int 0..9
    len(train), len(test)       # 1437, 360

Each 8x8 image (pixel values 0..16) is divided by 16 and resized bilinearly to size x size.
The split is fixed and stratified: 360 test images (20%, rounded up as scikit-learn's
train_test_split does), shared out over the classes in proportion to their sizes (largest
remainders first), chosen within each class by a permutation seeded with 0; every class is in
both splits and the split never changes between runs or machines.
"""
from __future__ import annotations

import functools

import numpy as np

from ...autograd.tensor import Tensor
from ..dataset import Dataset, _check_batch_indices, _check_index
from ..transforms import resize

N_TEST = 360
SPLIT_SEED = 0


@functools.lru_cache(maxsize=1)
def _load_raw():
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError("digits() needs scikit-learn, which ships the 1,797 digit scans: "
                          "pip install scratchnet[datasets]  (or: pip install scikit-learn)") \
            from e
    bunch = load_digits()
    return bunch.images.astype(np.float64), bunch.target.astype(np.int64)


def stratified_split(labels, n_test, seed=SPLIT_SEED):
    """(train_idx, test_idx), sorted: n_test indices shared out over the classes in
    proportion to their counts (largest remainders first, ties to the smaller label), picked
    within each class by a seeded permutation."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    quota = n_test * counts / counts.sum()
    take = np.floor(quota).astype(np.int64)
    by_remainder = sorted(range(len(classes)), key=lambda k: (-(quota[k] - take[k]), k))
    for k in by_remainder[:n_test - int(take.sum())]:
        take[k] += 1
    rng = np.random.default_rng(seed)
    test = []
    for c, t in zip(classes, take):
        members = np.flatnonzero(labels == c)
        test.append(members[rng.permutation(len(members))[:t]])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test


class Digits(Dataset):
    """scikit-learn's handwritten digits as (1, size, size) float32 images and int labels.

    split:     "train" (1,437 images) or "test" (360)
    size:      output height and width (32 for LeNet-5; 8 keeps the original scans)
    normalize: subtract the training split's mean pixel and divide by its standard deviation
               (the same two numbers for both splits; kept as .mean and .std)
    transform, target_transform: applied to each image / int label

    .data is the (N, 1, size, size) float32 array, .targets the (N,) int64 labels.
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, split="train", size=32, normalize=False, transform=None,
                 target_transform=None):
        if split not in ("train", "test"):
            raise ValueError(f"Digits: split must be 'train' or 'test', got {split!r}")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"Digits: size must be a positive int, got {size!r}")
        images, labels = _load_raw()
        train_idx, test_idx = stratified_split(labels, N_TEST)
        idx = train_idx if split == "train" else test_idx
        scaled = (images / 16.0).astype(np.float32)[:, None]          # (N, 1, 8, 8) in [0, 1]
        self.data = resize(scaled[idx], (int(size), int(size)))
        self.targets = labels[idx]
        self.split = split
        self.mean = self.std = None
        if normalize:
            train = resize(scaled[train_idx], (int(size), int(size)))
            self.mean, self.std = float(train.mean()), float(train.std())
            self.data = ((self.data - np.float32(self.mean)) / np.float32(self.std))
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        i = _check_index(index, len(self), "Digits")
        # a copy, so that an in-place transform cannot change the dataset itself
        img, target = self.data[i].copy(), int(self.targets[i])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def get_batch(self, indices):
        if self.transform is not None or self.target_transform is not None:
            return None
        indices = _check_batch_indices(indices, len(self), "Digits")
        return Tensor(self.data[indices]), Tensor(self.targets[indices])

    def __repr__(self):
        side = self.data.shape[-1]
        return f"Digits({self.split}, {len(self)} images of 1x{side}x{side})"


def digits(split="train", size=32, normalize=False, transform=None, target_transform=None):
    """The `Digits` dataset (see there): digits("train") and digits("test")."""
    return Digits(split, size=size, normalize=normalize, transform=transform,
                  target_transform=target_transform)
