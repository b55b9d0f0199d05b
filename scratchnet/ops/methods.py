"""The Tensor API: every method and operator a Tensor has beyond its class.

`autograd/tensor.py` holds what the engine needs (shape, dtype, size()/numel()/dim(),
conversion, detach/clone, the in-place ops and `.data`, backward). Everything that computes
(`x + y`, `x @ w`, `x.exp()`, `x.sum(dim=1)`, `x.view(...)`, `x.T`, `x[idx]`) is a free
function here, also exported as `scratchnet.exp`, `scratchnet.cat`, ...; `TENSOR_METHODS` at
the bottom lists, in one table, which of them becomes which Tensor method or operator, and
nothing else in scratchnet adds methods to Tensor (tests/test_tensor_api.py checks). Each
function only sorts out arguments and dtypes, then calls its Function.
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from .. import dtypes
from ..autograd.tensor import Tensor
from . import activation as A
from . import elementwise as E
from . import linalg as L
from . import reduce as R
from . import shape as S


def as_tensor(x, dtype=None) -> Tensor:
    if isinstance(x, Tensor):
        return x if dtype is None else x.to(dtype)
    return Tensor(dtypes.array_from_data(x, dtype))


def _operands(a, b):
    """Two operands of one dtype, following PyTorch's promotion: a Python scalar adopts the
    tensor's dtype (an int tensor and a float scalar give the default float). A scalar comes
    back as a 0-d ndarray, not a Tensor: a constant needs no version counter or graph entry,
    and `x * 0.5` is made in every step of many loops."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        if a.dtype != b.dtype:
            dt = dtypes.result_type(a.dtype, b.dtype)
            a, b = a.to(dt), b.to(dt)
        return a, b
    if ta:
        return _with_constant(a, b)
    if tb:
        b2, a2 = _with_constant(b, a)
        return a2, b2
    return as_tensor(a), as_tensor(b)


def _with_constant(t, c):
    if type(c) is float and t.data.dtype.kind == "f":
        # the usual case (x * 0.5) without the general checks below
        return t, np.asarray(c, dtype=t.data.dtype)
    if isinstance(c, (numbers.Number, np.generic)) and not isinstance(c, np.ndarray):
        dt = dtypes.scalar_dtype_for(t.dtype, c)
        if dt != t.dtype:
            t = t.to(dt)
        return t, np.asarray(c, dtype=dt)
    c = as_tensor(c)
    return _operands(t, c)


def _axis(axis, dim):
    return dim if dim is not None else axis


def _keep(keepdims, keepdim):
    return keepdim if keepdim is not None else keepdims


def add(a, b):
    return E.Add.apply(*_operands(a, b))


def sub(a, b):
    return E.Sub.apply(*_operands(a, b))


def mul(a, b):
    return E.Mul.apply(*_operands(a, b))


def div(a, b):
    a, b = _operands(a, b)
    if a.dtype.kind != "f":
        a, b = _to_default_float(a), _to_default_float(b)
    return E.Div.apply(a, b)


def _to_default_float(x):
    dt = dtypes.get_default_dtype()
    return x.to(dt) if isinstance(x, Tensor) else x.astype(dt)


def neg(a):
    return E.Neg.apply(as_tensor(a))


def pow(a, b):
    return E.Pow.apply(*_operands(a, b))


def exp(a):
    return E.Exp.apply(as_tensor(a))


def log(a):
    return E.Log.apply(as_tensor(a))


def sqrt(a):
    return E.Sqrt.apply(as_tensor(a))


def abs(a):
    return E.Abs.apply(as_tensor(a))


def tanh(a):
    return E.Tanh.apply(as_tensor(a))


def sigmoid(a):
    return E.Sigmoid.apply(as_tensor(a))


def relu(a):
    return E.Relu.apply(as_tensor(a))


def leaky_relu(a, negative_slope=0.01):
    return E.LeakyRelu.apply(as_tensor(a), negative_slope=negative_slope)


def prelu(input, weight):
    """F.prelu(input, weight): input (N, C, *), weight (1,) or (C,) -> input's shape.

    x where x > 0, weight[c] * x elsewhere; a (1,) weight is shared by every channel. As in
    PyTorch, an input of fewer than 2 dimensions has one channel."""
    x, w = as_tensor(input), as_tensor(weight)
    if w.ndim != 1:
        raise ValueError(f"prelu: the weight must be 1-D (num_parameters,), got shape "
                         f"{tuple(w.shape)}")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.shape[0] not in (1, channels):
        raise ValueError(f"prelu: the weight has {w.shape[0]} slopes but the input of shape "
                         f"{tuple(x.shape)} has {channels} channel(s) (dimension 1; "
                         f"inputs of fewer than 2 dimensions have one); give 1 shared slope "
                         f"or {channels}")
    if x.dtype != w.dtype:
        raise TypeError(f"prelu: the input is {x.dtype} but the weight is {w.dtype}; "
                        f"convert one of them (e.g. layer.to(x.dtype))")
    return A.PRelu.apply(x, w)


def clamp(a, min=None, max=None):
    return E.Clamp.apply(as_tensor(a), min=min, max=max)


clip = clamp


def maximum(a, b):
    return E.Maximum.apply(*_operands(a, b))


def minimum(a, b):
    return E.Minimum.apply(*_operands(a, b))


def where(condition, a, b):
    a, b = _operands(a, b)
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    return E.Where.apply(cond, a, b)


def eq(a, b):
    return E.Eq.apply(*_operands(a, b))


def ne(a, b):
    return E.Ne.apply(*_operands(a, b))


def lt(a, b):
    return E.Lt.apply(*_operands(a, b))


def le(a, b):
    return E.Le.apply(*_operands(a, b))


def gt(a, b):
    return E.Gt.apply(*_operands(a, b))


def ge(a, b):
    return E.Ge.apply(*_operands(a, b))


def matmul(a, b):
    a, b = _operands(a, b)
    return L.MatMul.apply(a, b)


def sum(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    a = as_tensor(a)
    if a.dtype.kind == "b":
        a = a.to(np.int64)
    return R.Sum.apply(a, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))


def mean(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    return R.Mean.apply(as_tensor(a), axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))


def max(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """The largest value (over `axis`). Unlike torch.max(x, dim), returns only the values;
    use argmax for the indices. Gradient: split evenly among tied maxima (torch.amax)."""
    return R.Max.apply(as_tensor(a), axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))


def min(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    return R.Min.apply(as_tensor(a), axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))


def var(a, axis=None, correction=1, keepdims=False, *, dim=None, keepdim=None, unbiased=None):
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return R.Var.apply(as_tensor(a), axis=_axis(axis, dim), correction=correction,
                       keepdims=_keep(keepdims, keepdim))


def std(a, axis=None, correction=1, keepdims=False, *, dim=None, keepdim=None, unbiased=None):
    return sqrt(var(a, axis, correction, keepdims, dim=dim, keepdim=keepdim, unbiased=unbiased))


def logsumexp(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    return R.LogSumExp.apply(as_tensor(a), axis=_axis(axis, dim),
                             keepdims=_keep(keepdims, keepdim))


def argmax(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    return R.ArgMax.apply(as_tensor(a), axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))


def argmin(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    return R.ArgMin.apply(as_tensor(a), axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(a, *shape):
    return S.Reshape.apply(as_tensor(a), shape=_shape_arg(shape))


def permute(a, *dims):
    return S.Permute.apply(as_tensor(a), dims=_shape_arg(dims))


def transpose(a, dim0=None, dim1=None):
    """transpose(a, dim0, dim1) swaps two dims (PyTorch); transpose(a) reverses them all."""
    a = as_tensor(a)
    if dim0 is None and dim1 is None:
        return permute(a, *range(a.ndim - 1, -1, -1))
    dims = list(range(a.ndim))
    (d0,) = R.normalize_axis(dim0, a.ndim, "transpose")
    (d1,) = R.normalize_axis(dim1, a.ndim, "transpose")
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return permute(a, *dims)


def t(a):
    """torch.t: a 2-D tensor transposed; 0-D and 1-D tensors come back as they are."""
    a = as_tensor(a)
    if a.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dimensions, but this one is "
                         f"{a.ndim}-D (shape {a.shape}); use .mT or .transpose(dim0, dim1)")
    return a if a.ndim < 2 else permute(a, 1, 0)


def _T(a):
    """`x.T`: the dims in reverse order (torch's rule for every rank: a 1-D tensor is itself,
    a 2-D tensor its transpose, (N, C, H, W) becomes (W, H, C, N))."""
    return a if a.ndim < 2 else permute(a, *range(a.ndim - 1, -1, -1))


def _mT(a):
    """`x.mT`: the last two dims swapped, a batch of matrices each transposed."""
    if a.ndim < 2:
        raise ValueError(f"tensor.mT is only supported on matrices or batches of matrices, "
                         f"got a {a.ndim}-D tensor (shape {a.shape})")
    return transpose(a, -2, -1)


def mm(a, b):
    """torch.mm: (n, m) @ (m, p) -> (n, p), 2-D only (matmul broadcasts batches)."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: both arguments must be 2-D matrices, got shapes {a.shape} and "
                         f"{b.shape}; use matmul (@) for batches or vectors")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"mm: shapes {a.shape} and {b.shape} cannot be multiplied: "
                         f"{a.shape[1]} columns against {b.shape[0]} rows")
    return matmul(a, b)


def flatten(a, start_dim=0, end_dim=-1):
    a = as_tensor(a)
    if a.ndim == 0:
        return reshape(a, 1)
    (s,) = R.normalize_axis(start_dim, a.ndim, "flatten")
    (e,) = R.normalize_axis(end_dim, a.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = a.shape[:s] + (int(np.prod(a.shape[s:e + 1], dtype=np.int64)),) + a.shape[e + 1:]
    return reshape(a, shape)


def squeeze(a, axis=None, *, dim=None):
    """Remove size-1 dims (all of them, or those named; a named dim of another size is left
    alone, as in PyTorch)."""
    a = as_tensor(a)
    axis = _axis(axis, dim)
    axes = R.normalize_axis(axis, a.ndim, "squeeze")
    if axes is None:
        axes = tuple(i for i, n in enumerate(a.shape) if n == 1)
    shape = tuple(n for i, n in enumerate(a.shape) if not (i in axes and n == 1))
    return reshape(a, shape)


def unsqueeze(a, axis=None, *, dim=None):
    a = as_tensor(a)
    (ax,) = R.normalize_axis(_axis(axis, dim), a.ndim + 1, "unsqueeze")
    return reshape(a, a.shape[:ax] + (1,) + a.shape[ax:])


def expand(a, *shape):
    return S.Expand.apply(as_tensor(a), shape=_shape_arg(shape))


def broadcast_to(a, shape):
    return expand(a, tuple(shape))


def cat(tensors, axis=0, *, dim=None):
    ts = [as_tensor(t) for t in tensors]
    if ts and len({t.dtype for t in ts}) > 1:
        dt = ts[0].dtype
        for t in ts[1:]:
            dt = dtypes.result_type(dt, t.dtype)
        ts = [t.to(dt) for t in ts]
    return S.Cat.apply(*ts, axis=_axis(axis, dim))


concatenate = cat


def stack(tensors, axis=0, *, dim=None):
    ts = [as_tensor(t) for t in tensors]
    if ts and len({t.dtype for t in ts}) > 1:
        dt = ts[0].dtype
        for t in ts[1:]:
            dt = dtypes.result_type(dt, t.dtype)
        ts = [t.to(dt) for t in ts]
    return S.Stack.apply(*ts, axis=_axis(axis, dim))


def split(a, split_size_or_sections, axis=0, *, dim=None):
    """PyTorch's split: an int is the size of each piece (the last may be smaller); a list
    gives every piece's size."""
    a = as_tensor(a)
    (ax,) = R.normalize_axis(_axis(axis, dim), a.ndim, "split")
    n = a.shape[ax]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step <= 0:
            raise ValueError(f"split: the piece size must be positive, got {step}")
        sizes = [step] * (n // step) + ([n % step] if n % step else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
    if not sizes:
        return ()
    return S.Split.apply(a, tuple(sizes), axis=ax)


def chunk(a, chunks, axis=0, *, dim=None):
    """`chunks` pieces of equal size ceil(n / chunks) (fewer if they run out), as PyTorch."""
    a = as_tensor(a)
    (ax,) = R.normalize_axis(_axis(axis, dim), a.ndim, "chunk")
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    step = -(-a.shape[ax] // chunks)
    return split(a, builtins.max(step, 1), axis=ax)


def pad(a, pad, mode="constant", value=0.0):
    return S.Pad.apply(as_tensor(a), pad=tuple(pad), mode=mode, value=value)


def flip(a, dims):
    return S.Flip.apply(as_tensor(a), dims=dims)


def softmax(a, axis=-1, *, dim=None):
    return A.Softmax.apply(as_tensor(a), axis=_axis(axis, dim))


def log_softmax(a, axis=-1, *, dim=None):
    return A.LogSoftmax.apply(as_tensor(a), axis=_axis(axis, dim))


def getitem(a, index):
    return S.GetItem.apply(a, index=S.convert_index(index))


def _any(a, axis=None):
    return Tensor(np.asarray(a.data.any(axis=axis)))


def _all(a, axis=None):
    return Tensor(np.asarray(a.data.all(axis=axis)))


TENSOR_METHODS = {
    # operators
    "__add__": add, "__radd__": lambda s, o: add(o, s),
    "__sub__": sub, "__rsub__": lambda s, o: sub(o, s),
    "__mul__": mul, "__rmul__": lambda s, o: mul(o, s),
    "__truediv__": div, "__rtruediv__": lambda s, o: div(o, s),
    "__pow__": pow, "__rpow__": lambda s, o: pow(o, s),
    "__matmul__": matmul, "__rmatmul__": lambda s, o: matmul(o, s),
    "__neg__": neg, "__abs__": abs, "__getitem__": getitem,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "__hash__": object.__hash__,     # __eq__ is elementwise; hash by identity as torch
    # elementwise
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "exp": exp,
    "log": log, "sqrt": sqrt, "abs": abs, "tanh": tanh, "sigmoid": sigmoid, "relu": relu,
    "leaky_relu": leaky_relu, "clamp": clamp, "clip": clip, "maximum": maximum,
    "minimum": minimum, "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    # matrix products
    "matmul": matmul, "mm": mm,
    # reductions
    "sum": sum, "mean": mean, "max": max, "min": min, "var": var, "std": std,
    "logsumexp": logsumexp, "argmax": argmax, "argmin": argmin, "any": _any, "all": _all,
    "softmax": softmax, "log_softmax": log_softmax,
    # shape
    "reshape": reshape, "view": reshape, "view_as": lambda s, o: reshape(s, o.shape),
    "reshape_as": lambda s, o: reshape(s, o.shape), "permute": permute,
    "transpose": transpose, "t": t, "T": property(_T), "mT": property(_mT),
    "flatten": flatten, "squeeze": squeeze, "unsqueeze": unsqueeze, "expand": expand,
    "expand_as": lambda s, o: expand(s, o.shape), "broadcast_to": broadcast_to,
    "split": split, "chunk": chunk, "flip": flip,
}

for _name, _fn in TENSOR_METHODS.items():
    setattr(Tensor, _name, _fn)
