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

    __slots__ = ("fn", "ctx", "inputs", "out_meta", "freed", "saved_versions")

    def __init__(self, fn, ctx, inputs, out_meta):
        self.fn = fn
        self.ctx = ctx
        self.inputs = inputs          # tuple: Tensor or None for each positional argument
        self.out_meta = out_meta      # tuple of (shape, dtype) for each output
        self.freed = False
        # (version cell, version when saved, description) of each tensor whose values the
        # backward reads; the engine refuses to run it if one has changed in place since
        self.saved_versions = ()

    def check_versions(self):
        for cell, version, what in self.saved_versions:
            if cell[0] != version:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [{what}], which {self!r} saved, is at version "
                    f"{cell[0]}; expected version {version} instead. Something changed its "
                    f"values (an optimizer step, load_state_dict, an in-place op such as "
                    f"add_) between the forward pass and backward(): run backward() first, or "
                    f"compute the forward again after the change")

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
        if record:
            node = Node(cls, ctx,
                        tuple(a if isinstance(a, Tensor) and a.requires_grad else None for a in args),
                        tuple((o.shape, o.dtype) for o in outs))
            results = []
            for i, o in enumerate(outs):
                diff = id(o) not in ctx.non_differentiable and o.dtype.kind in "fc"
                results.append(Tensor._from_op(o, node if diff else None, i))
            saved = _saved_arrays(ctx)
            if saved:
                node.saved_versions = tuple(
                    (t._version_cell, t._version_cell[0], f"{t.dtype} tensor of shape {t.shape}")
                    for t in (*(a for a in args if isinstance(a, Tensor)), *results)
                    if any(np.may_share_memory(t.data, s) for s in saved))
        else:
            results = [Tensor._from_op(o, None, 0) for o in outs]
        return tuple(results) if isinstance(out, tuple) else results[0]


def _saved_arrays(ctx):
    """The arrays a forward kept for its backward: save_for_backward's and ctx attributes."""
    found = [a for a in ctx.saved_arrays if isinstance(a, np.ndarray)]
    for name, v in vars(ctx).items():
        if name == "saved_arrays":
            continue
        if isinstance(v, np.ndarray):
            found.append(v)
        elif isinstance(v, (tuple, list)):
            found.extend(a for a in v if isinstance(a, np.ndarray))
    return found


def _as_array(x):
    if isinstance(x, np.ndarray):
        return x
    return np.asarray(x)
