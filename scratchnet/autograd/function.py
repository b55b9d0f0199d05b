"""Function: one differentiable operation, forward and backward on plain ndarrays.

A Function subclass holds the whole story of an op in one place::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_arrays
            return grad * b, grad * a

`Mul.apply(x, y)` unwraps the Tensors, runs `forward` on ndarrays, wraps the result, and (when
some input requires grad and grad mode is on) records a `Node` so that `backward` can be called
later. `backward` returns one gradient per positional argument of `forward` (None where there is
none), each with the shape of that argument.

Ops that ship with scratchnet are registered with `@register`, so the tests can enumerate
every op and demand a gradient check for it. Functions written in lessons or exercises need no
registration.
"""
from __future__ import annotations

import itertools
import operator

import numpy as np

from .grad_mode import _state as _grad_state

Tensor = None  # set by tensor.py, which imports this module

REGISTRY: dict[str, type] = {}


def register(name: str, differentiable: bool = True):
    """Class decorator: add a Function to the op registry under `name`."""

    def deco(cls):
        if name in REGISTRY:
            raise ValueError(f"op name {name!r} is registered twice "
                             f"({REGISTRY[name].__qualname__} and {cls.__qualname__})")
        cls.op_name = name
        cls.differentiable = differentiable
        REGISTRY[name] = cls
        return cls

    return deco


class Context:
    """Scratch space a Function's forward leaves for its backward.

    The defaults are class attributes: most ops set one or two fields, and a context that
    owns no containers of its own is cheaper to make for every op of every forward."""

    needs_input_grad: tuple = ()
    saved_arrays: tuple = ()
    non_differentiable = frozenset()

    def save_for_backward(self, *arrays):
        self.saved_arrays = arrays

    def mark_non_differentiable(self, *arrays):
        """Outputs marked here (e.g. max-pool indices) never require grad."""
        self.non_differentiable = self.non_differentiable.union(id(a) for a in arrays)


# creation order of nodes: a node is made after the nodes of its inputs, so walking nodes
# from the newest to the oldest visits every consumer before what it consumes
_sequence = itertools.count()
# fields per tensor in Node.versions: cell, version, data id, base id, dtype, shape
_VERSION_FIELDS = 6


class Node:
    """A recorded call: which Function ran, its context, and the Tensors it read."""

    __slots__ = ("fn", "ctx", "inputs", "n_outputs", "freed", "versions", "version_sum",
                 "tensor_hooks", "retained", "seq")

    def __init__(self, fn, ctx, inputs, n_outputs):
        self.fn = fn
        self.ctx = ctx
        self.inputs = inputs          # tuple: Tensor or None for each positional argument
        self.n_outputs = n_outputs
        self.freed = False
        self.seq = next(_sequence)
        # (version cell, version, id of the data and of its base, dtype, shape) of every
        # input and then every output at forward time, one flat tuple: the engine refuses to
        # run backward if a tensor the backward reads has changed in place since. Ids, not
        # the arrays, so that no intermediate result is kept alive; they stay meaningful
        # because each array was alive when the forward saved its own, so a saved array with
        # that id is that array. Versions only grow, so their sum tells whether one changed.
        self.versions = ()
        self.version_sum = 0
        # output index -> that output tensor's register_hook dict, and -> a weak reference
        # to an output that called retain_grad(); both None until someone asks
        self.tensor_hooks = None
        self.retained = None

    @property
    def out_meta(self):
        """(shape, dtype) of each output, as the forward made it."""
        v = self.versions
        first = len(v) - _VERSION_FIELDS * self.n_outputs
        return tuple((v[i + 5], v[i + 4]) for i in range(first, len(v), _VERSION_FIELDS))

    def check_versions(self):
        v = self.versions
        if sum(map(_first, v[::_VERSION_FIELDS])) == self.version_sum:
            return
        saved = _saved_memory(self.ctx)
        for i in range(0, len(v), _VERSION_FIELDS):
            cell, version, data_id, base_id, dtype, shape = v[i:i + _VERSION_FIELDS]
            if cell[0] != version and (data_id in saved or base_id in saved):
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [{dtype} tensor of shape {shape}], which "
                    f"{self!r} saved, is at version {cell[0]}; expected version {version} "
                    f"instead. Something changed its values (an optimizer step, "
                    f"load_state_dict, an in-place op such as add_) between the forward pass "
                    f"and backward(): run backward() first, or compute the forward again "
                    f"after the change")

    def __repr__(self):
        return f"<{self.fn.__name__}Backward>"


_first = operator.itemgetter(0)
# needs_input_grad of a call that records nothing, by number of arguments
_NOTHING_NEEDED = [(False,) * n for n in range(8)]


class Function:
    """Base class of every differentiable op. Subclass it and define forward and backward."""

    op_name = None
    differentiable = True

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("a Function subclass must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *args, **kwargs):
        # this runs for every op of every forward: one pass over the arguments, no container
        # the node keeps that an existing one can stand for, and a straight path for the
        # usual op with one output
        arrays = []
        tensors = []
        needs = []
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                tensors.append(a)
                needs.append(a.requires_grad)
            else:
                arrays.append(a)
                needs.append(False)
        ctx = Context()
        if not (True in needs and cls.differentiable and _grad_state.enabled):
            n = len(args)
            ctx.needs_input_grad = _NOTHING_NEEDED[n] if n < 8 else (False,) * n
            out = cls.forward(ctx, *arrays, **kwargs)
            if isinstance(out, tuple):
                results = [_tensor(o, None, 0) for o in out]
                _share_versions_with_bases(results, tensors)
                return tuple(results)
            result = _tensor(out, None, 0)
            if result.data.base is not None:
                _share_versions_with_bases((result,), tensors)
            return result

        needs = tuple(needs)
        ctx.needs_input_grad = needs = _NEEDS.setdefault(needs, needs)
        out = cls.forward(ctx, *arrays, **kwargs)
        if len(tensors) == len(args) and False not in needs:
            inputs = args         # every argument is a tensor that requires grad
        else:
            inputs = tuple(a if b else None for a, b in zip(args, needs))
        several = isinstance(out, tuple)
        node = Node(cls, ctx, inputs, len(out) if several else 1)
        marked = ctx.non_differentiable
        results = []
        for i, o in enumerate(out if several else (out,)):
            if type(o) is not np.ndarray:
                o = np.asarray(o)
            diff = o.dtype.kind in "fc" and (not marked or id(o) not in marked)
            results.append(_tensor(o, node if diff else None, i))
        _share_versions_with_bases(results, tensors)
        # every tensor's version now; which of them the backward reads is worked out only
        # if one has changed by then (cheaper than doing it for every op of every forward)
        versions = []
        total = 0
        for t in tensors + results:
            d = t.data
            cell = t._version_cell
            total += cell[0]
            versions += (cell, cell[0], id(d), id(d.base), d.dtype, d.shape)
        node.versions = tuple(versions)
        node.version_sum = total
        return tuple(results) if several else results[0]


def _tensor(data, node, index):
    """The Tensor of an op's output: its array, the node that made it (None when no
    gradient flows) and its place among the node's outputs; built field by field, without
    Tensor.__init__'s checks, since an op's output needs none of them."""
    if type(data) is not np.ndarray:
        data = np.asarray(data)
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t._node = node
    t._out_index = index
    t._retains_grad = False
    t._version_cell = [0]
    t._backward_hooks = None
    t.requires_grad = node is not None
    return t


_new = object.__new__


# one needs_input_grad tuple per pattern, shared by every context that has it
_NEEDS: dict = {}


def _share_versions_with_bases(results, inputs):
    """An output that is a view of an input (reshape, transpose, basic indexing) shares its
    version counter, as torch's views do: an in-place change through either is a change of
    both."""
    for r in results:
        base = r.data.base
        if base is None:
            continue
        for a in inputs:
            if base is a.data or base is a.data.base:
                r._version_cell = a._version_cell
                break


_CONTEXT_OWN = frozenset(("needs_input_grad", "saved_arrays", "non_differentiable"))


def _saved_memory(ctx):
    """ids of the arrays a forward kept for its backward (save_for_backward's, and ndarray
    attributes of ctx, also inside tuples) and of the arrays that own their memory (NumPy
    points a view's .base at the owner). Never id(None), the base id a Node records for
    data that owns its memory."""
    ids = set()
    arrays = list(ctx.saved_arrays)
    for name, v in vars(ctx).items():
        if name not in _CONTEXT_OWN:
            arrays.extend(v if isinstance(v, (tuple, list)) else (v,))
    for a in arrays:
        if isinstance(a, np.ndarray):
            ids.add(id(a))
            if a.base is not None:
                ids.add(id(a.base))
    return ids
