"""dtype rules, as in PyTorch.

- float32 is the default for floating-point data made from Python numbers.
- An ndarray keeps its dtype, so float64 flows through every op (gradcheck needs it).
- A Python scalar never changes a tensor's dtype: float32 * 2.0 stays float32.
- float with int gives the float; float32 with float64 gives float64.
"""
from __future__ import annotations

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_default_float = float32

_NAMES = {"float": float32, "float32": float32, "double": float64, "float64": float64,
          "half": float16, "float16": float16, "long": int64, "int64": int64, "int": int32,
          "int32": int32, "uint8": uint8, "bool": bool_}


def get_default_dtype():
    return _default_float


def set_default_dtype(dtype):
    global _default_float
    dtype = as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"the default dtype must be floating point, got {dtype}")
    _default_float = dtype


def as_dtype(dtype) -> np.dtype:
    if isinstance(dtype, str) and dtype in _NAMES:
        return _NAMES[dtype]
    return np.dtype(dtype)


def array_from_data(data, dtype=None) -> np.ndarray:
    """The ndarray `tensor(data)` stores: arrays keep their dtype; Python floats become the
    default float dtype, Python ints int64, bools bool."""
    if dtype is not None:
        return np.array(data, dtype=as_dtype(dtype))
    if isinstance(data, np.ndarray):
        return data.copy()
    if isinstance(data, np.generic):
        return np.array(data)
    a = np.array(data)
    if a.dtype.kind == "f":
        a = a.astype(_default_float)
    elif a.dtype.kind in "iu":
        a = a.astype(int64)
    return a


def result_type(a: np.dtype, b: np.dtype) -> np.dtype:
    """Promotion of two tensor dtypes (not scalars)."""
    if a == b:
        return a
    af, bf = a.kind == "f", b.kind == "f"
    if af and bf:
        return a if a.itemsize >= b.itemsize else b
    if af:
        return a
    if bf:
        return b
    return np.result_type(a, b)


def scalar_dtype_for(tensor_dtype: np.dtype, scalar) -> np.dtype:
    """dtype of (tensor op python-scalar): the tensor's, unless an int/bool tensor meets a
    float scalar, which gives the default float."""
    if isinstance(scalar, (bool, np.bool_)):
        return tensor_dtype
    if isinstance(scalar, (float, np.floating)) and tensor_dtype.kind not in "fc":
        return _default_float
    if isinstance(scalar, (int, np.integer)) and tensor_dtype.kind == "b":
        return int64
    return tensor_dtype
