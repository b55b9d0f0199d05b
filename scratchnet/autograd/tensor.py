"""Tensor: an ndarray that remembers how it was computed.

A tensor made by an op that read a tensor requiring grad carries `_node`, the recorded call;
leaves (tensors you create) have none. Arithmetic, reductions, shape ops and indexing are
the methods listed in one table, `TENSOR_METHODS` in `scratchnet/ops/methods.py` (the Tensor
API beyond this class).

`.data` and in-place changes (where scratchnet departs from torch, and where it follows it):

- `.data` is the NumPy array that holds the values, not a Tensor as in torch. It is shared,
  never copied, and writing to it is invisible to autograd, exactly as torch's `.data` is:
  `w.data[:] -= lr * w.grad` and `w.data -= lr * w.grad.data` update `w` in place.
- In-place methods follow torch: `add_`, `sub_`, `mul_`, `div_`, `zero_`, `fill_`, `copy_`,
  `x[idx] = v` and the operators `+=`, `-=`, `*=`, `/=` change the values and return the same
  tensor; the result is cast to the tensor's dtype when torch would (float64 into float32 yes,
  a float into an int tensor no). On a leaf that requires grad they are refused unless grad
  mode is off, so `with no_grad(): w -= lr * w.grad; w.grad.zero_()` runs as written. Unlike
  torch, an in-place op on a non-leaf tensor is not recorded in the graph: it raises, and the
  out-of-place form (`y = y + 1`) is the way.
- Every tensor counts its in-place changes (`_version`; optimizer steps, `load_state_dict`
  and `nn.init` count too; `detach()` and views such as `view`, `transpose` or `x[0]` share
  their base's counter). An op records the versions of the tensors its backward reads; if
  one changed before `backward()`, backward raises torch's "modified by an inplace
  operation" error instead of returning a wrong gradient. Writing a value that requires grad
  into a tensor in place is refused while grad mode is on (torch would record it).
"""
from __future__ import annotations

import weakref
from collections import OrderedDict

import numpy as np

from . import engine, function, grad_mode, plumbing
from .hooks import RemovableHandle
from .. import dtypes
from ..shapes import normalize_axis


class Tensor:
    __slots__ = ("data", "requires_grad", "grad", "_node", "_out_index", "_retains_grad",
                 "_version_cell", "_backward_hooks", "__weakref__")

    def __init__(self, data, requires_grad: bool = False):
        if not isinstance(data, np.ndarray):
            data = np.asarray(data)
        self.data = data
        self.grad = None
        self._node = None
        self._out_index = 0
        self._retains_grad = False
        self._version_cell = [0]
        self._backward_hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    def size(self, dim=None):
        """The shape as a tuple, or the length of dimension `dim` (torch's `Tensor.size`).
        The element count is `numel()` (NumPy's `.size`)."""
        if dim is None:
            return tuple(self.data.shape)
        if self.data.ndim == 0:
            raise IndexError(f"size({dim}): a 0-d tensor has no dimensions")
        (d,) = normalize_axis(dim, self.data.ndim, "size")
        return self.data.shape[d]

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def dim(self):
        return self.data.ndim

    def numel(self):
        return self.data.size

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
        """The same data, cut from the graph (shares memory and the version counter, like
        PyTorch, so an in-place change through the detached tensor is still caught)."""
        t = Tensor(self.data)
        t._version_cell = self._version_cell
        return t

    def clone(self):
        return plumbing.Clone.apply(self)

    def requires_grad_(self, requires_grad: bool = True):
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require grad; this one is "
                            f"{self.data.dtype} (labels and indices stay integer)")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep .grad for this non-leaf tensor after backward (leaves always keep it). As in
        torch, the kept gradient is the one after this tensor's hooks (register_hook)."""
        if self._node is not None and not self._retains_grad:
            self._retains_grad = True
            if self._node.retained is None:
                self._node.retained = {}
            self._node.retained[self._out_index] = weakref.ref(self)
        return self

    def register_hook(self, hook):
        """Call hook(grad) each time the gradient with respect to this tensor is computed
        (torch's Tensor.register_hook). `grad` is a Tensor of this tensor's shape: the sum over
        every use of the tensor. A non-None return value (same shape and dtype) replaces the
        gradient: for a leaf, before it is added to .grad; for an intermediate tensor, before
        it flows on to the ops that made it. Hooks run in the order they were registered.
        Grad-CAM registers one on a feature map to read d(class score)/d(map). Returns a
        handle; `handle.remove()` takes the hook off."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        if self._backward_hooks is None:
            self._backward_hooks = OrderedDict()
            if self._node is not None:
                if self._node.tensor_hooks is None:
                    self._node.tensor_hooks = {}
                self._node.tensor_hooks[self._out_index] = self._backward_hooks
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        return handle

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

    # In-place changes and version counting: see the module docstring.
    @property
    def _version(self):
        """How many in-place changes this tensor's values have seen (torch's `_version`)."""
        return self._version_cell[0]

    def _bump_version(self):
        self._version_cell[0] += 1

    def _check_inplace(self, op, other=None):
        if not grad_mode.is_grad_enabled():
            return
        if isinstance(other, Tensor) and other.requires_grad:
            # torch would put this tensor into the graph; writing raw values would silently
            # cut the gradient off
            raise RuntimeError(
                f"{op}: the value written in place requires grad, and in-place operations "
                "are not recorded by scratchnet's autograd, so no gradient would reach it; "
                "build the result out of place (sn.cat, sn.stack, sn.where, y = x + v) or "
                "write .detach() if no gradient is wanted")
        if self.requires_grad:
            if self._node is None:
                raise RuntimeError(
                    f"{op}: a leaf tensor that requires grad is being used in an in-place "
                    "operation. Update parameters inside `with sn.no_grad():` (or write to "
                    "`.data`, the raw array)")
            raise RuntimeError(
                f"{op}: in-place operations on a tensor that is part of a graph are not "
                "recorded by scratchnet's autograd; write the out-of-place form (y = y + 1)")

    def _inplace(self, op, ufunc, other):
        self._check_inplace(op, other)
        value = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(self.data, value, out=self.data, casting="same_kind")
        except TypeError as e:  # numpy's UFuncTypeError and broadcasting to `out`
            other_dtype = np.result_type(value) if not isinstance(value, (int, float)) \
                else type(value).__name__
            raise RuntimeError(f"{op}: the result ({other_dtype}) can't be cast to this "
                               f"tensor's dtype {self.data.dtype} in place") from e
        except ValueError as e:
            raise RuntimeError(f"{op}: a value of shape {np.shape(value)} does not broadcast "
                               f"to this tensor's shape {self.shape} in place") from e
        self._bump_version()
        return self

    def add_(self, other, *, alpha=1):
        return self._inplace("add_", np.add, other if alpha == 1 else alpha * other)

    def sub_(self, other, *, alpha=1):
        return self._inplace("sub_", np.subtract, other if alpha == 1 else alpha * other)

    def mul_(self, other):
        return self._inplace("mul_", np.multiply, other)

    def div_(self, other):
        if self.data.dtype.kind != "f":
            raise RuntimeError(f"div_: true division of an integer tensor ({self.data.dtype}) "
                               "can't be stored in place")
        return self._inplace("div_", np.true_divide, other)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def copy_(self, src):
        """Copy the values of `src` (broadcast to this shape, cast to this dtype)."""
        self._check_inplace("copy_", src)
        value = src.data if isinstance(src, Tensor) else np.asarray(src)
        np.copyto(self.data, value, casting="unsafe")
        self._bump_version()
        return self

    def fill_(self, value):
        self._check_inplace("fill_")
        self.data.fill(value)
        self._bump_version()
        return self

    def zero_(self):
        return self.fill_(0)

    def __setitem__(self, index, value):
        self._check_inplace("__setitem__", value)
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        self.data[index] = value.data if isinstance(value, Tensor) else value
        self._bump_version()

    # NumPy calls this for a ufunc that meets a Tensor. `array -= tensor` (what
    # `w.data[:] -= lr * w.grad` runs) writes the tensor's values into the raw array; an
    # operator such as `array * tensor` goes to the Tensor's reflected operator so the
    # result stays a differentiable Tensor; anything else (np.exp(tensor)) is refused.
    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if out is not None:
            if method != "__call__" or any(isinstance(o, Tensor) for o in out):
                return NotImplemented
            args = [x.data if isinstance(x, Tensor) else x for x in inputs]
            return ufunc(*args, out=out, **kwargs)
        name = _REFLECTED.get(ufunc.__name__)
        if method != "__call__" or name is None or len(inputs) != 2 or kwargs \
                or inputs[1] is not self:
            return NotImplemented
        return getattr(self, name)(inputs[0])

    def to(self, dtype):
        dtype = dtypes.as_dtype(dtype)
        if dtype == self.dtype:
            return self
        return plumbing.Cast.apply(self, dtype=dtype)

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


# ufunc name -> the reflected operator that handles `ndarray <op> Tensor`
_REFLECTED = {"add": "__radd__", "subtract": "__rsub__", "multiply": "__rmul__",
              "true_divide": "__rtruediv__", "divide": "__rtruediv__", "power": "__rpow__",
              "matmul": "__rmatmul__", "less": "__gt__", "less_equal": "__ge__",
              "greater": "__lt__", "greater_equal": "__le__", "equal": "__eq__",
              "not_equal": "__ne__"}

engine.Tensor = function.Tensor = Tensor
