"""Reverse-mode differentiation over the recorded graph.

The graph is a DAG of Nodes. `backward` first orders the nodes reachable from the output
topologically with an explicit stack (no recursion, so a 20,000-op chain is fine), then walks
that order once, from the output back to the leaves. Each node's output gradients are summed
before its backward runs, so a tensor used twice (a diamond) gets the sum of both paths.
"""
from __future__ import annotations

import numpy as np

from .grad_mode import no_grad


class GraphFreedError(RuntimeError):
    pass


_strict_dtypes = False


def set_strict_dtypes(enabled: bool) -> None:
    """Strict dtype mode: a backward that returns a gradient of another dtype than its input
    raises instead of being cast. A float64 gradient for a float32 input means the op
    computed in float64, which the cast would hide; the test suite runs in this mode."""
    global _strict_dtypes
    _strict_dtypes = bool(enabled)


def strict_dtypes_enabled() -> bool:
    return _strict_dtypes


def _topological_order(root):
    """Nodes reachable from `root`, each after every node that consumes its outputs."""
    order = []
    visited = {id(root)}
    stack = [(root, iter(root.inputs))]
    while stack:
        node, it = stack[-1]
        for t in it:
            if t is None:
                continue
            child = t._node
            if child is not None and id(child) not in visited:
                visited.add(id(child))
                stack.append((child, iter(child.inputs)))
                break
        else:
            stack.pop()
            order.append(node)
    order.reverse()
    return order


def _accumulate(slot, grad):
    return grad if slot is None else slot + grad


def run_backward(tensor, gradient, retain_graph: bool):
    root = tensor._node
    if root is None:
        # a leaf: its gradient is the seed itself
        _accumulate_leaf(tensor, gradient)
        return
    grads = {id(root): [None] * len(root.out_meta)}
    grads[id(root)][tensor._out_index] = gradient
    with no_grad():
        for node in _topological_order(root):
            out_grads = grads.pop(id(node), None)
            if out_grads is None:
                continue
            if node.freed:
                raise GraphFreedError(
                    f"backward through {node!r} a second time: its saved arrays were freed "
                    "after the first backward. Pass retain_graph=True to the first "
                    ".backward() call if you need to backpropagate through the graph twice.")
            node.check_versions()
            filled = [g if g is not None else np.zeros(shape, dtype)
                      for g, (shape, dtype) in zip(out_grads, node.out_meta)]
            in_grads = node.fn.backward(node.ctx, *filled)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(node.inputs):
                raise RuntimeError(
                    f"{node.fn.__name__}.backward returned {len(in_grads)} gradients for "
                    f"{len(node.inputs)} inputs of forward")
            if not retain_graph:
                _free(node)
            for t, g in zip(node.inputs, in_grads):
                if t is None or g is None:
                    continue
                g = np.asarray(g)
                if g.shape != t.data.shape:
                    raise RuntimeError(
                        f"{node.fn.__name__}.backward returned a gradient of shape {g.shape} "
                        f"for an input of shape {t.data.shape}")
                if g.dtype != t.data.dtype:
                    if _strict_dtypes:
                        raise TypeError(
                            f"{node.fn.__name__}.backward returned a {g.dtype} gradient for a "
                            f"{t.data.dtype} input (strict dtype mode): the op computed in "
                            f"another precision than its input")
                    g = g.astype(t.data.dtype)
                if t._node is None:
                    _accumulate_leaf(t, g)
                else:
                    slots = grads.setdefault(id(t._node), [None] * len(t._node.out_meta))
                    slots[t._out_index] = _accumulate(slots[t._out_index], g)
                if t._retains_grad and t._node is not None:
                    _accumulate_leaf(t, g)


def _accumulate_leaf(t, g):
    from .tensor import Tensor

    if t.grad is None:
        t.grad = Tensor(np.array(g, dtype=t.data.dtype, copy=True))
    else:
        t.grad.data = t.grad.data + g


def _free(node):
    ctx = node.ctx
    holds_arrays = bool(ctx.saved_arrays) or any(
        isinstance(v, np.ndarray) for v in vars(ctx).values())
    if holds_arrays:
        node.ctx = None
        node.freed = True
