"""Hook plumbing, as torch.utils.hooks: the handle every `register_*hook` returns, and the
identity op that lets a module's full backward hooks see its gradients."""
from __future__ import annotations

import itertools

import numpy as np

from .function import Function


class RemovableHandle:
    """Returned by `Module.register_forward_hook`, `register_forward_pre_hook` and
    `Tensor.register_hook`; `handle.remove()` takes the hook off again. Also a context
    manager: the hook is removed when the `with` block ends."""

    _ids = itertools.count()

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


class _Identity(Function):
    """Passes its inputs through unchanged (as views) and, on the way back, hands their
    gradients to `on_backward`, which may replace them. Wrapped around a module's inputs
    and outputs, it is where the module's backward hooks see the gradients."""

    @staticmethod
    def forward(ctx, *arrays, on_backward):
        ctx.on_backward = on_backward
        return tuple(a.view() for a in arrays)

    @staticmethod
    def backward(ctx, *grads):
        return tuple(ctx.on_backward(grads))


class BackwardHook:
    """One call of a module with full backward hooks (torch.utils.hooks.BackwardHook).

    `setup_input_hook(args)` wraps the module's positional Tensor inputs that require grad
    in an identity op, `setup_output_hook(output)` wraps its output Tensor(s). On backward
    the output's identity runs first: the backward pre-hooks see grad_output (and may replace
    it); then the inputs' identity runs: the backward hooks see (grad_input, grad_output)
    and may replace grad_input. When no input requires grad the backward hooks are called
    from the output side, with grad_input all None, as torch does."""

    def __init__(self, module, hooks, pre_hooks):
        self.module = module
        self.hooks = list(hooks.values())
        self.pre_hooks = list(pre_hooks.values())
        self.n_args = 0
        self.input_slots = []
        self.grad_output = None

    def setup_input_hook(self, args):
        from .tensor import Tensor

        self.n_args = len(args)
        self.input_slots = [i for i, a in enumerate(args)
                            if isinstance(a, Tensor) and a.requires_grad]
        if not self.input_slots:
            return args
        wrapped = _Identity.apply(*(args[i] for i in self.input_slots),
                                  on_backward=self._on_input_grads)
        args = list(args)
        for i, t in zip(self.input_slots, wrapped):
            args[i] = t
        return tuple(args)

    def setup_output_hook(self, output):
        from .tensor import Tensor

        single = isinstance(output, Tensor)
        outs = (output,) if single else output
        if not isinstance(outs, tuple) or not all(isinstance(o, Tensor) for o in outs) \
                or not any(o.requires_grad for o in outs):
            return output
        wrapped = _Identity.apply(*outs, on_backward=self._on_output_grads)
        return wrapped[0] if single else wrapped

    def _call(self, hook, *args):
        from .tensor import Tensor

        result = hook(self.module, *args)
        if result is None:
            return None
        result = result if isinstance(result, (tuple, list)) else (result,)
        if len(result) != len(args[0]):
            raise RuntimeError(f"backward hook {getattr(hook, '__name__', hook)!r} of "
                               f"{type(self.module).__name__} returned {len(result)} "
                               f"gradients, expected {len(args[0])} (or None)")
        return tuple(r if r is None or isinstance(r, Tensor) else Tensor(r) for r in result)

    def _on_output_grads(self, grads):
        from .tensor import Tensor

        grad_output = tuple(Tensor(g) for g in grads)
        for hook in self.pre_hooks:
            grad_output = self._call(hook, grad_output) or grad_output
        self.grad_output = grad_output
        if not self.input_slots:
            for hook in self.hooks:
                self._call(hook, (None,) * self.n_args, grad_output)
        return [_array_like(g, a) for g, a in zip(grad_output, grads)]

    def _on_input_grads(self, grads):
        from .tensor import Tensor

        grad_input = [None] * self.n_args
        for i, g in zip(self.input_slots, grads):
            grad_input[i] = Tensor(g)
        grad_input = tuple(grad_input)
        for hook in self.hooks:
            grad_input = self._call(hook, grad_input, self.grad_output) or grad_input
        return [_array_like(grad_input[i], g) for i, g in zip(self.input_slots, grads)]


def _array_like(new, old):
    """The array of a hook's replacement gradient, checked against the one it replaces (a
    None means zero, as in torch)."""
    if new is None:
        return np.zeros_like(old)
    a = np.asarray(new.data)
    if a.shape != old.shape or a.dtype != old.dtype:
        raise RuntimeError(f"a backward hook returned a gradient of shape {a.shape} and dtype "
                           f"{a.dtype} for one of shape {old.shape} and dtype {old.dtype}")
    return a
