"""Ways to make a tensor. Float data defaults to float32; random draws use the library's
seeded generator (see scratchnet.random)."""
from __future__ import annotations

import numpy as np

from . import dtypes
from . import random as _random
from .autograd.tensor import Tensor


def _float(dtype):
    return dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(int(s) for s in shape[0])
    return tuple(int(s) for s in shape)


def tensor(data, dtype=None, requires_grad=False) -> Tensor:
    """A new leaf tensor holding a copy of `data` (a list, scalar, ndarray or Tensor)."""
    if isinstance(data, Tensor):
        data = data.data
    return Tensor(dtypes.array_from_data(data, dtype), requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array` (no copy), as torch.from_numpy."""
    return Tensor(np.asarray(array))


def zeros(*shape, dtype=None, requires_grad=False):
    return Tensor(np.zeros(_shape(shape), _float(dtype)), requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return Tensor(np.ones(_shape(shape), _float(dtype)), requires_grad=requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    if dtype is None:
        dtype = np.asarray(fill_value).dtype
        dtype = dtypes.get_default_dtype() if dtype.kind == "f" else (
            np.int64 if dtype.kind in "iu" else dtype)
    return Tensor(np.full(_shape((shape,)), fill_value, dtypes.as_dtype(dtype)),
                  requires_grad=requires_grad)


def empty(*shape, dtype=None, requires_grad=False):
    return zeros(*shape, dtype=dtype, requires_grad=requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return Tensor(np.zeros(t.shape, dtypes.as_dtype(dtype) if dtype else t.dtype),
                  requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return Tensor(np.ones(t.shape, dtypes.as_dtype(dtype) if dtype else t.dtype),
                  requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return Tensor(np.full(t.shape, fill_value, dtypes.as_dtype(dtype) if dtype else t.dtype),
                  requires_grad=requires_grad)


def randn(*shape, dtype=None, requires_grad=False, generator=None):
    g = _random.get_generator(generator)
    return Tensor(g.standard_normal(_shape(shape)).astype(_float(dtype)),
                  requires_grad=requires_grad)


def rand(*shape, dtype=None, requires_grad=False, generator=None):
    g = _random.get_generator(generator)
    return Tensor(g.random(_shape(shape)).astype(_float(dtype)), requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=np.int64, generator=None):
    if high is None:
        low, high = 0, low
    g = _random.get_generator(generator)
    return Tensor(g.integers(low, high, size=tuple(size)).astype(dtype))


def randperm(n, generator=None):
    return Tensor(_random.get_generator(generator).permutation(n).astype(np.int64))


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = dtypes.get_default_dtype() if is_float else np.int64
    return Tensor(np.arange(start, end, step).astype(dtypes.as_dtype(dtype)),
                  requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    return Tensor(np.linspace(start, end, steps).astype(_float(dtype)),
                  requires_grad=requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    return Tensor(np.eye(n, m, dtype=_float(dtype)), requires_grad=requires_grad)
