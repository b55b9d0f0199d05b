"""Reverse-mode differentiation over the recorded graph.

The graph is a DAG of Nodes. `backward` first orders the nodes reachable from the output
topologically with an explicit stack (no recursion, so a 20,000-op chain is fine), then walks
that order once, from the output back to the leaves. Each node's output gradients are summed
before its backward runs, so a tensor used twice (a diamond) gets the sum of both paths; the
hooks of Tensor.register_hook run on that sum (for a leaf, on the sum over all its uses,
before it is added to .grad), as torch's do.
"""
from __future__ import annotations

import operator
import sys

import numpy as np

from .function import _VERSION_FIELDS, _first
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
    """Nodes reachable from `root`, each after every node that consumes its outputs: the
    reachable nodes, newest first (a node is always made after the nodes of its inputs, so
    creation order is a topological order; no recursion, so a 20,000-op chain is fine)."""
    seen = {root}
    stack = [root]
    while stack:
        for t in stack.pop().inputs:
            if t is not None:
                child = t._node
                if child is not None and child not in seen:
                    seen.add(child)
                    stack.append(child)
    return sorted(seen, key=_creation, reverse=True)


_creation = operator.attrgetter("seq")


def _accumulate(slot, grad):
    return grad if slot is None else slot + grad


def run_backward(tensor, gradient, retain_graph: bool):
    root = tensor._node
    if root is None:
        # a leaf: its gradient is the seed itself
        _accumulate_leaf(tensor, _run_hooks(tensor._backward_hooks, gradient))
        return
    # node -> the summed gradient of its output (a list of them for a node with several)
    grads = {}
    if root.n_outputs == 1:
        grads[root] = gradient
    else:
        grads[root] = [None] * root.n_outputs
        grads[root][tensor._out_index] = gradient
    # leaves collect the sum over all their uses first: a hook sees the whole gradient once
    leaves = {}
    with no_grad():
        for node in _topological_order(root):
            out_grads = grads.pop(node, None)
            if out_grads is None:
                continue
            if node.freed:
                raise GraphFreedError(
                    f"backward through {node!r} a second time: its saved arrays were freed "
                    "after the first backward. Pass retain_graph=True to the first "
                    ".backward() call if you need to backpropagate through the graph twice.")
            if sum(map(_first, node.versions[::_VERSION_FIELDS])) != node.version_sum:
                node.check_versions()      # something changed in place: is it a saved one?
            if node.n_outputs == 1:
                out_grads = [out_grads]
            if node.tensor_hooks or node.retained:
                _finish_outputs(node, out_grads)
            if node.n_outputs != 1:
                out_grads = [g if g is not None else np.zeros(shape, dtype)
                             for g, (shape, dtype) in zip(out_grads, node.out_meta)]
            fn = node.fn
            in_grads = fn.backward(node.ctx, *out_grads)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            inputs = node.inputs
            if len(in_grads) != len(inputs):
                raise RuntimeError(
                    f"{fn.__name__}.backward returned {len(in_grads)} gradients for "
                    f"{len(inputs)} inputs of forward")
            if not retain_graph:
                ctx = node.ctx
                if ctx.saved_arrays or _holds_arrays(ctx):
                    node.ctx = None
                    node.freed = True
            for t, g in zip(inputs, in_grads):
                if t is None or g is None:
                    continue
                if type(g) is not np.ndarray:
                    g = np.asarray(g)
                data = t.data
                if g.shape != data.shape:
                    raise RuntimeError(
                        f"{fn.__name__}.backward returned a gradient of shape {g.shape} "
                        f"for an input of shape {data.shape}")
                if g.dtype != data.dtype:
                    if _strict_dtypes:
                        raise TypeError(
                            f"{fn.__name__}.backward returned a {g.dtype} gradient for a "
                            f"{data.dtype} input (strict dtype mode): the op computed in "
                            f"another precision than its input")
                    g = g.astype(data.dtype)
                child = t._node
                if child is None:
                    entry = leaves.get(t)
                    if entry is None:
                        leaves[t] = g
                    else:
                        leaves[t] = entry + g
                elif child.n_outputs == 1:
                    slot = grads.get(child)
                    grads[child] = g if slot is None else slot + g
                else:
                    slots = grads.get(child)
                    if slots is None:
                        slots = grads[child] = [None] * child.n_outputs
                    slots[t._out_index] = _accumulate(slots[t._out_index], g)
    # let go of the walk's references, so that a leaf's gradient nothing else holds can
    # become its .grad without a copy
    out_grads = in_grads = g = entry = slot = slots = ctx = None
    while leaves:
        t, g = leaves.popitem()
        g = _run_hooks(t._backward_hooks, g)
        # counted in a statement of its own: a call's earlier arguments are references too
        owned = _references(g) <= _ALONE and _held_only_here(g)
        _accumulate_leaf(t, g, owned)


def _finish_outputs(node, out_grads):
    """The summed gradient of each output of `node` is complete here: run the outputs'
    register_hook hooks on it (they may replace it), then fill .grad of outputs that
    called retain_grad()."""
    if node.tensor_hooks:
        for i, hooks in node.tensor_hooks.items():
            if out_grads[i] is not None:
                out_grads[i] = _run_hooks(hooks, out_grads[i])
    if node.retained:
        for i, ref in node.retained.items():
            t = ref()
            if t is not None and out_grads[i] is not None:
                _accumulate_leaf(t, out_grads[i])


def _run_hooks(hooks, grad):
    """grad after every hook(grad) in `hooks` (torch's Tensor.register_hook rules: a
    non-None return value replaces the gradient and must keep its shape and dtype)."""
    if not hooks:
        return grad
    from .tensor import Tensor

    for hook in list(hooks.values()):
        result = hook(Tensor(grad))
        if result is None:
            continue
        new = np.asarray(result.data if isinstance(result, Tensor) else result)
        if new.shape != grad.shape:
            raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} has changed the "
                               f"size of value: it returned shape {new.shape} for a gradient "
                               f"of shape {grad.shape}")
        if new.dtype != grad.dtype:
            raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} has changed the "
                               f"type of value: it returned {new.dtype} for a {grad.dtype} "
                               f"gradient")
        grad = new
    return grad


def _accumulate_leaf(t, g, owned=False):
    """Add g to t.grad. A first gradient is copied, unless `owned`: an array that nothing but
    the engine refers to (torch "steals" such a gradient the same way; for ResNet-18 the copy
    moved 44 MB a step)."""
    from .tensor import Tensor

    if t.grad is None:
        if not (owned and g.dtype == t.data.dtype):
            g = np.array(g, dtype=t.data.dtype, copy=True)
        t.grad = Tensor(g)
    else:
        t.grad.data = t.grad.data + g


def _references(a):
    """How many references to `a` the interpreter counts, called by the function whose
    local variable holds `a`. Any other holder (a list, a dict, a tensor, a hook's closure,
    a view of `a`, which keeps its base alive) adds one."""
    return sys.getrefcount(a)


def _base_references(view):
    """The same count for the array a view was made from, which the view alone holds when
    it is a reshape of a fresh result (conv's weight gradient is one)."""
    base = view.base
    return sys.getrefcount(base)


def _references_when_alone():
    a = np.empty(2)
    view = np.empty(2).reshape(1, 2)
    return _references(a), _base_references(view)


# the counts for an array that only its caller's variable holds, and for the base of a view
# that only the view holds: measured, not assumed (interpreters count temporaries
# differently)
_ALONE, _BASE_ALONE = _references_when_alone()


def _held_only_here(a):
    """True when nothing but the caller's variable reaches the numbers of `a`: it owns
    them, or it is a full-size view of an array that it alone holds. Then the caller may
    hand `a` on without a copy."""
    if not isinstance(a, np.ndarray) or not a.flags.writeable:
        return False
    if a.base is None:
        return True
    # no local name for the base here: it would be one more reference to it
    if not (isinstance(a.base, np.ndarray) and a.base.base is None and a.base.size == a.size):
        return False
    return _base_references(a) <= _BASE_ALONE


def _holds_arrays(ctx):
    """Whether a backward's context keeps arrays (besides save_for_backward's) that a
    backward without retain_graph frees."""
    return any(isinstance(v, np.ndarray) for v in vars(ctx).values())
