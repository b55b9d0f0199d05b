"""LFWSubset: scikit-image's bundled 100 faces and 100 non-faces (25x25 grey), for a
face/non-face classifier that a sliding-window detector can run over a photo.

    train = LFWSubset("train")                # 160 images: 80 faces, 80 non-faces
    x, y = train[0]                           # x (1, 25, 25) float32 in [0, 1], y 1 = face

skimage.data.lfw_subset() returns 200 images, the first 100 faces (from Labeled Faces in the
Wild) and the next 100 crops of other things. The split is fixed and stratified: 20 faces
and 20 non-faces (a seeded permutation within each class) are the test set.
"""
from __future__ import annotations

import numpy as np

from ..dataset import Dataset, _check_index
from .digits import stratified_split

N_TEST = 40


def _load():
    try:
        import skimage.data
    except ImportError as e:
        raise ImportError("LFWSubset reads scikit-image's bundled faces: pip install "
                          "scikit-image  (or: pip install scratchnet[datasets])") from e
    images = skimage.data.lfw_subset()
    # documented as uint8, shipped as float64 in [0, 1] by recent versions
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    images = (images / scale).astype(np.float32)
    labels = np.r_[np.ones(100, np.int64), np.zeros(100, np.int64)]
    return images, labels


class LFWSubset(Dataset):
    """Faces (label 1) and non-faces (label 0), 25x25.

    split: "train" (160), "test" (40) or "all" (200, faces first)
    transform, target_transform: applied to each (1, 25, 25) image / int label
    """

    classes = ["non-face", "face"]

    def __init__(self, split="train", transform=None, target_transform=None):
        if split not in ("train", "test", "all"):
            raise ValueError(f"LFWSubset: split must be 'train', 'test' or 'all', got {split!r}")
        images, labels = _load()
        if split == "all":
            idx = np.arange(len(labels))
        else:
            train_idx, test_idx = stratified_split(labels, N_TEST)
            idx = train_idx if split == "train" else test_idx
        self.split = split
        self.data = images[idx, None]
        self.targets = labels[idx]
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        return f"LFWSubset({self.split}, {len(self)} images of 1x25x25)"

    def __getitem__(self, index):
        i = _check_index(index, len(self), "LFWSubset")
        img, target = self.data[i].copy(), int(self.targets[i])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target
