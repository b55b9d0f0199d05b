"""Datasets: anything with `len(ds)` and `ds[i] -> example`, as in `torch.utils.data`.

    ds = TensorDataset(images, labels)          # images (N, C, H, W), labels (N,)
    x, y = ds[0]                                # x (C, H, W), y () int64
    train, val = random_split(ds, [0.8, 0.2], generator=0)

A dataset that holds its examples in arrays can also hand out a whole batch at once:
`get_batch(indices)` returns the already-collated batch, which `DataLoader` uses instead of
fetching examples one by one and stacking them (one fancy-indexing copy instead of N small
ones). It returns None whenever that shortcut would give a different result than the
one-by-one path (for example when a transform must run on each example).
"""
from __future__ import annotations

import bisect
import math

import numpy as np

from ..autograd.tensor import Tensor
from ._generator import draw_from, own_generator


class Dataset:
    """Base class: override `__getitem__(index)` and `__len__()`."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def get_batch(self, indices: np.ndarray):
        """The collated batch for `indices` (int64 array), or None when this dataset cannot
        index a whole batch at once; the loader then collates example by example."""
        return None

    def __add__(self, other):
        return ConcatDataset([self, other])


def _check_index(index, n, who):
    if isinstance(index, Tensor):
        index = index.__index__()
    if not isinstance(index, (int, np.integer)) or isinstance(index, (bool, np.bool_)):
        raise TypeError(f"{who}: an index must be an int, got {type(index).__name__}")
    if not -n <= index < n:
        raise IndexError(f"{who}: index {index} is out of range for {n} examples")
    return int(index) % n if n else int(index)


def _check_batch_indices(indices, n, who):
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu" or indices.ndim != 1:
        raise TypeError(f"{who}: batch indices must be a 1-D integer array, got "
                        f"{indices.dtype} of shape {indices.shape}")
    if indices.size and (indices.min() < -n or indices.max() >= n):
        raise IndexError(f"{who}: batch indices must lie in [-{n}, {n}), got "
                         f"[{indices.min()}, {indices.max()}]")
    return indices


class TensorDataset(Dataset):
    """Examples are rows of the given tensors: `ds[i] = (t[i] for t in tensors)`.

    Inputs: tensors (Tensors or ndarrays), all with the same first dimension N,
            e.g. images (N, C, H, W) and labels (N,).
    ds[i]:  a tuple of Tensors, one row of each, e.g. ((C, H, W), ()).
    The rows are views of the stored arrays (no copy), as in PyTorch.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        arrays = []
        for i, t in enumerate(tensors):
            a = t.data if isinstance(t, Tensor) else np.asarray(t)
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is a scalar; every tensor needs a "
                                 f"first dimension that indexes the examples")
            arrays.append(a)
        sizes = [a.shape[0] for a in arrays]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: all tensors must have the same first dimension "
                             f"(the number of examples), got {sizes}")
        self.tensors = tuple(Tensor(a) for a in arrays)

    def __getitem__(self, index):
        i = _check_index(index, len(self), "TensorDataset")
        return tuple(Tensor(t.data[i]) for t in self.tensors)

    def __len__(self):
        return self.tensors[0].data.shape[0]

    def get_batch(self, indices):
        indices = _check_batch_indices(indices, len(self), "TensorDataset")
        return tuple(Tensor(t.data[indices]) for t in self.tensors)


class Subset(Dataset):
    """The examples of `dataset` at `indices`, in that order: `Subset(ds, idx)[k] = ds[idx[k]]`."""

    def __init__(self, dataset, indices):
        idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if idx.size == 0:
            idx = idx.astype(np.int64)
        if idx.dtype.kind not in "iu" or idx.ndim != 1:
            raise TypeError(f"Subset: indices must be a 1-D sequence of ints, got "
                            f"{idx.dtype} of shape {idx.shape}")
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} "
                             f"examples, got [{idx.min()}, {idx.max()}]")
        self.dataset = dataset
        self.indices = idx.astype(np.int64)

    def __getitem__(self, index):
        i = _check_index(index, len(self), "Subset")
        return self.dataset[int(self.indices[i])]

    def __len__(self):
        return len(self.indices)

    def get_batch(self, indices):
        indices = _check_batch_indices(indices, len(self), "Subset")
        inner = getattr(self.dataset, "get_batch", None)
        return None if inner is None else inner(self.indices[indices])


class ConcatDataset(Dataset):
    """Several datasets one after another: indices 0..len(a)-1 are a's, then b's, ..."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        i = _check_index(index, len(self), "ConcatDataset")
        which = bisect.bisect_right(self.cumulative_sizes, i)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][i - start]


def random_split(dataset, lengths, generator=None):
    """Split `dataset` into non-overlapping random Subsets of the given lengths.

    lengths: ints that add up to len(dataset), or fractions that add up to 1 (each part gets
    floor(fraction * N) examples and the leftover ones go one each to the first parts, as
    in PyTorch). The permutation comes from `generator` (an int seed or a Generator), else
    from the library's seeded generator.
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in lengths):
        sizes = [int(x) for x in lengths]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ValueError(f"random_split: the lengths {sizes} must be non-negative and add "
                             f"up to the dataset's {n} examples (they add up to {sum(sizes)})")
    else:
        fracs = [float(x) for x in lengths]
        if any(not 0 <= f <= 1 for f in fracs) or not math.isclose(sum(fracs), 1.0,
                                                                      abs_tol=1e-9):
            raise ValueError(f"random_split: fractional lengths must lie in [0, 1] and add up "
                             f"to 1, got {fracs} (sum {sum(fracs)})")
        sizes = [int(math.floor(f * n)) for f in fracs]
        for k in range(n - sum(sizes)):
            sizes[k % len(sizes)] += 1
    g = draw_from(own_generator(generator, "random_split"))
    perm = g.permutation(n)
    bounds = np.cumsum([0] + sizes)
    return [Subset(dataset, perm[bounds[k]:bounds[k + 1]]) for k in range(len(sizes))]


class InMemoryImageDataset(Dataset):
    """A downloaded image dataset held in memory: `.data` (N, ...) images, `.targets` (N,)
    int labels, optional `transform` / `target_transform`, a `train` flag and a `root`.
    Without transforms, whole batches are served by fancy indexing (`get_batch`)."""

    transform = None
    target_transform = None

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        i = _check_index(index, len(self), type(self).__name__)
        img, target = self.data[i], int(self.targets[i])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def get_batch(self, indices):
        if self.transform is not None or self.target_transform is not None:
            return None
        indices = _check_batch_indices(indices, len(self), type(self).__name__)
        return Tensor(self.data[indices]), Tensor(self.targets[indices])

    def __repr__(self):
        split = "train" if self.train else "test"
        return f"{type(self).__name__}({split}, {len(self)} images, root={self.root!r})"
