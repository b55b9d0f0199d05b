"""Tensor: an ndarray that remembers how it was computed.

The data lives in `.data` (a NumPy array). A tensor made by an op that read a tensor requiring
grad carries `_node`, the recorded call; leaves (tensors you create) have none. Arithmetic,
reductions, shape ops and indexing are attached as methods by `scratchnet.ops.methods`.
"""
from __future__ import annotations

import numpy as np

from . import engine
from .. import dtypes


class Tensor:
    __slots__ = ("data", "requires_grad", "grad", "_node", "_out_index", "_retains_grad",
                 "__weakref__")
    # NumPy defers to our reflected operators (ndarray * Tensor -> Tensor.__rmul__)
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False):
        if not isinstance(data, np.ndarray):
            data = np.asarray(data)
        self.data = data
        self.grad = None
        self._node = None
        self._out_index = 0
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data, node, index):
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t._node = node
        t._out_index = index
        t._retains_grad = False
        t.requires_grad = node is not None
        return t

    # -- properties -------------------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def T(self):
        return self.transpose(*range(self.ndim - 1, -1, -1))

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def dim(self):
        return self.data.ndim

    def numel(self):
        return self.data.size

    # -- conversion -------------------------------------------------------------------------
    def numpy(self):
        """The underlying array (shared, not copied). Like PyTorch, refuses when it would
        silently drop the graph: call .detach().numpy() for a tensor that requires grad."""
        if self.requires_grad:
            raise RuntimeError("numpy() of a tensor that requires grad: call .detach().numpy()")
        return self.data

    def __array__(self, dtype=None, copy=None):
        a = self.data
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        if copy:
            return a.copy()
        return a

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only a tensor with one element can be converted to a "
                             f"Python scalar, this one has shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             "use .any() or .all()")
        return bool(self.data.reshape(()).item())

    def __index__(self):
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors with one element can be used as an index")
        return int(self.data.reshape(()).item())

    def detach(self):
        """The same data, cut from the graph (shares memory, like PyTorch)."""
        return Tensor(self.data)

    def clone(self):
        from ..ops.elementwise import Clone
        return Clone.apply(self)

    def requires_grad_(self, requires_grad: bool = True):
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require grad; this one is "
                            f"{self.data.dtype} (labels and indices stay integer)")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep .grad for this non-leaf tensor after backward (leaves always keep it)."""
        if self._node is not None:
            self._retains_grad = True
        return self

    # -- backward ---------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool = False):
        """Accumulate d(self)/d(leaf) * gradient into every leaf's .grad.

        For a scalar `gradient` defaults to 1. For any other shape it must be given (the
        vector in the vector-Jacobian product), as in PyTorch.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no input "
                               "of the computation had requires_grad=True (or it ran under "
                               "no_grad())")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; this output has "
                    f"shape {self.shape}. Reduce it first (e.g. .sum() or .mean()) or pass "
                    f"backward(gradient=...) of the same shape")
            g = np.ones(self.shape, dtype=self.dtype)
        else:
            g = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient)
            if g.shape != self.shape:
                raise ValueError(f"backward: gradient has shape {g.shape} but the output has "
                                 f"shape {self.shape}")
            g = g.astype(self.dtype, copy=False)
        engine.run_backward(self, g, retain_graph)

    # -- dtype ------------------------------------------------------------------------------
    def to(self, dtype):
        from ..ops.elementwise import Cast
        dtype = dtypes.as_dtype(dtype)
        if dtype == self.dtype:
            return self
        return Cast.apply(self, dtype=dtype)

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    def type(self, dtype=None):
        return self.dtype if dtype is None else self.to(dtype)

    # -- repr -------------------------------------------------------------------------------
    def __repr__(self):
        body = np.array2string(self.data, separator=", ", precision=4, suppress_small=True,
                               prefix="tensor(", max_line_width=100)
        extras = []
        if self.data.dtype != np.float32 and self.data.dtype != np.int64:
            extras.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn={self._node!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.data.size == 0 or self.data.size > 1000:
            extras.insert(0, f"shape={self.shape}")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    __str__ = __repr__


engine.Tensor = Tensor
