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

import numpy as np

from . import grad_mode

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
    """Scratch space a Function's forward leaves for its backward."""

    def __init__(self):
        self.needs_input_grad: tuple = ()
        self.saved_arrays: tuple = ()
        self.non_differentiable: set = set()

    def save_for_backward(self, *arrays):
        self.saved_arrays = arrays

    def mark_non_differentiable(self, *arrays):
        """Outputs marked here (e.g. max-pool indices) never require grad."""
        self.non_differentiable.update(id(a) for a in arrays)


class Node:
    """A recorded call: which Function ran, its context, and the Tensors it read."""

    __slots__ = ("fn", "ctx", "inputs", "out_meta", "freed", "versions", "tensor_hooks",
                 "retained")

    def __init__(self, fn, ctx, inputs, out_meta):
        self.fn = fn
        self.ctx = ctx
        self.inputs = inputs          # tuple: Tensor or None for each positional argument
        self.out_meta = out_meta      # tuple of (shape, dtype) for each output
        self.freed = False
        # (version cell, version, id of the data and of its base, dtype, shape) of every
        # input and output at forward time: the engine refuses to run backward if a tensor
        # the backward reads has changed in place since. Ids, not the arrays, so that no
        # intermediate result is kept alive; they stay meaningful because each array was
        # alive when the forward saved its own, so a saved array with that id is that array.
        self.versions = ()
        # output index -> that output tensor's register_hook dict, and -> a weak reference
        # to an output that called retain_grad(); both None until someone asks
        self.tensor_hooks = None
        self.retained = None

    def check_versions(self):
        changed = [e for e in self.versions if e[0][0] != e[1]]
        if not changed:
            return
        saved = _saved_memory(self.ctx)
        for cell, version, data_id, base_id, dtype, shape in changed:
            if data_id in saved or base_id in saved:
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
        from .tensor import Tensor

        arrays = []
        needs = []
        any_needs = False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                needs.append(a.requires_grad)
                any_needs = any_needs or a.requires_grad
            else:
                arrays.append(a)
                needs.append(False)
        record = any_needs and cls.differentiable and grad_mode.is_grad_enabled()
        ctx = Context()
        ctx.needs_input_grad = tuple(needs) if record else (False,) * len(args)
        out = cls.forward(ctx, *arrays, **kwargs)

        if isinstance(out, tuple):
            outs = tuple(_as_array(o) for o in out)
        else:
            outs = (_as_array(out),)
        inputs = [a for a in args if isinstance(a, Tensor)]
        if record:
            node = Node(cls, ctx,
                        tuple(a if isinstance(a, Tensor) and a.requires_grad else None for a in args),
                        tuple((o.shape, o.dtype) for o in outs))
            results = []
            for i, o in enumerate(outs):
                diff = id(o) not in ctx.non_differentiable and o.dtype.kind in "fc"
                results.append(Tensor._from_op(o, node if diff else None, i))
            _share_versions_with_bases(results, inputs)
            # every tensor's version now; which of them the backward reads is worked out only
            # if one has changed by then (cheaper than doing it for every op of every forward)
            node.versions = [(t._version_cell, t._version_cell[0], id(t.data),
                              id(t.data.base), t.data.dtype, t.data.shape)
                             for t in (*inputs, *results)]
        else:
            results = [Tensor._from_op(o, None, 0) for o in outs]
            _share_versions_with_bases(results, inputs)
        return tuple(results) if isinstance(out, tuple) else results[0]


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


def _as_array(x):
    if isinstance(x, np.ndarray):
        return x
    return np.asarray(x)
