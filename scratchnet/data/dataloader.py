"""DataLoader: mini-batches from a dataset, in order or shuffled, as in `torch.utils.data`.

    loader = DataLoader(train_set, batch_size=64, shuffle=True)
    for x, y in loader:             # x (64, C, H, W) float32 Tensor, y (64,) int64 Tensor
        ...

Loading happens in the calling process (there are no worker processes). Each pass over the
loader draws a new order when shuffle=True, from `generator` or the library's generator.
"""
from __future__ import annotations

import collections.abc
import math
import numbers

import numpy as np

from .. import dtypes
from ..autograd.tensor import Tensor
from ._generator import draw_from, own_generator


def default_collate(batch):
    """Stack a list of examples into one batch, field by field.

    - Tensors and ndarrays of equal shape (S...) -> one Tensor (N, S...) of their dtype.
    - Python ints -> int64 (N,); Python floats -> float32 (N,) (the default float dtype);
      bools -> bool (N,); NumPy scalars keep their dtype.
    - tuples / lists -> a tuple / list of collated fields; dicts -> a dict of them.
    - strings (and anything else) -> the list as it is.
    """
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty")
    first = batch[0]
    if isinstance(first, (Tensor, np.ndarray)):
        arrays = [b.data if isinstance(b, Tensor) else np.asarray(b) for b in batch]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"default_collate: cannot stack examples of different shapes "
                             f"{sorted(shapes)}; resize them to one size (e.g. a Resize or "
                             f"RandomCrop transform) or pass a collate_fn")
        return Tensor(np.stack(arrays))
    if isinstance(first, (bool, np.bool_)):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(first, np.generic):
        return Tensor(np.array(batch, dtype=first.dtype))
    if isinstance(first, numbers.Integral):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return Tensor(np.array(batch, dtype=dtypes.get_default_dtype()))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, collections.abc.Mapping):
        return {key: default_collate([b[key] for b in batch]) for key in first}
    if isinstance(first, (tuple, list)):
        sizes = {len(b) for b in batch}
        if len(sizes) != 1:
            raise ValueError(f"default_collate: examples have different numbers of fields "
                             f"{sorted(sizes)}")
        fields = [default_collate(list(column)) for column in zip(*batch)]
        if hasattr(first, "_fields"):      # namedtuple
            return type(first)(*fields)
        return tuple(fields) if isinstance(first, tuple) else fields
    return list(batch)


def detection_collate(batch):
    """Collate (image, target) examples whose targets differ in size (K boxes per image):
    returns (images, targets) with images one (N, C, H, W) Tensor when all images have one
    shape and a list of them otherwise, and targets the list of the N target dicts as they
    are. torchvision's detection references collate the same way (tuple(zip(*batch)));
    stacking only the images is what a detector's forward takes.
    """
    if len(batch) == 0:
        raise ValueError("detection_collate: the batch is empty")
    if any(not isinstance(b, (tuple, list)) or len(b) != 2 for b in batch):
        raise ValueError("detection_collate: every example must be an (image, target) pair")
    images = [b[0].data if isinstance(b[0], Tensor) else np.asarray(b[0]) for b in batch]
    targets = [b[1] for b in batch]
    if len({im.shape for im in images}) == 1:
        return Tensor(np.stack(images)), targets
    return images, targets


class DataLoader:
    """Iterate over `dataset` in mini-batches.

    dataset:    anything with len() and [i]
    batch_size: examples per batch; the last batch is smaller unless drop_last=True
    shuffle:    a new random order on every pass (from `generator`, else the library's)
    collate_fn: list of examples -> batch; default `default_collate`
    generator:  an int seed or a numpy Generator for the shuffling

    len(loader) is the number of batches: ceil(N / batch_size), or floor with drop_last.

    With the default collate, a dataset that can index a whole batch at once
    (`dataset.get_batch(indices)`, e.g. a TensorDataset or MNIST without transforms) is
    asked for the batch directly, which gives the same batch as collating example by
    example, only faster.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None,
                 generator=None, num_workers=0):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got "
                             f"{batch_size!r}")
        if num_workers != 0:
            raise ValueError(f"DataLoader: num_workers={num_workers} is not supported; "
                             f"scratchnet loads batches in the calling process (use 0)")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got "
                            f"{type(collate_fn).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn if collate_fn is not None else default_collate
        self.generator = own_generator(generator, "DataLoader")
        self._fast = collate_fn is None

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def batch_indices(self):
        """The index arrays of one pass, in order (draws a new permutation if shuffling)."""
        n = len(self.dataset)
        order = draw_from(self.generator).permutation(n) if self.shuffle else np.arange(n)
        stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
        return [order[i:i + self.batch_size] for i in range(0, stop, self.batch_size)]

    def __iter__(self):
        get_batch = getattr(self.dataset, "get_batch", None) if self._fast else None
        for idx in self.batch_indices():
            batch = get_batch(idx) if get_batch is not None else None
            if batch is None:
                batch = self.collate_fn([self.dataset[int(i)] for i in idx])
            yield batch

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, batches={len(self)})")
