"""Module: the base class of every layer and every network.

A Module owns three ordered dictionaries, filled by plain attribute assignment in `__init__`:

    self.weight = Parameter(...)          -> _parameters["weight"]   (trainable)
    self.register_buffer("running_mean")  -> _buffers["running_mean"] (state, not trained)
    self.conv1 = Conv2d(...)              -> _modules["conv1"]       (a child)

Everything else (parameters(), state_dict(), train(), double(), repr) walks that tree. Names
follow PyTorch, so `model.state_dict()` has the same keys as the PyTorch model built the same
way ("features.0.weight", "bn1.running_var", ...) and weights move between the two.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from ... import dtypes
from ...autograd.grad_mode import is_grad_enabled
from ...autograd.hooks import BackwardHook, RemovableHandle  # noqa: F401 (nn re-exports)
from ...autograd.tensor import Tensor
from ..parameter import Parameter


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What `load_state_dict` returns: the keys it could not fill and the keys it did not use."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class StateDictError(RuntimeError):
    """load_state_dict could not load every entry; the message lists all problems at once."""


def _addindent(text, spaces):
    """Indent every line but the first (a child's repr sits after "(name): ")."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * spaces
    return lines[0] + "\n" + "\n".join(pad + line for line in lines[1:])


def _is_uninitialized(t):
    """A lazy layer's parameter or buffer that has no shape yet (see lazy.py)."""
    return callable(getattr(type(t), "materialize", None))


def _state_array(value):
    """(ndarray, None) for a state-dict value that can be copied into a parameter, or
    (None, the reason it cannot). Only numbers and bools are copied: NumPy would turn a
    string or None into an array, and an object array into NaN weights, without a word."""
    if isinstance(value, Tensor):
        value = value.data
    if value is None or isinstance(value, (str, bytes)):
        return None, (f"the value is {value!r}, not an array of numbers (is the checkpoint "
                      f"damaged, or its keys shifted?)")
    dtype = str(getattr(value, "dtype", ""))
    try:
        array = np.asarray(value)
    except Exception as e:
        # e.g. a torch bfloat16 tensor, which NumPy cannot hold
        hint = " (widen it first: tensor.float())" if "bfloat16" in dtype else ""
        return None, (f"the value ({type(value).__name__} {dtype}) cannot be read as a NumPy "
                      f"array{hint}: {e}")
    if "bfloat16" in str(array.dtype):
        return None, ("the value is bfloat16; widen it to float32 first "
                      "(array.astype(np.float32), or tensor.float() in torch)")
    if array.dtype.kind == "c":
        return None, (f"the value is complex ({array.dtype}); a parameter holds real "
                      f"numbers, so the imaginary part would be lost")
    if array.dtype.kind not in "biuf":
        return None, (f"the value is an array of {array.dtype}, not numbers: it cannot be "
                      f"copied into a parameter")
    return array, None


class Module:
    """Base class of layers and networks. Subclasses call `super().__init__()` first, assign
    parameters / sub-modules as attributes, and define `forward`. Call the module, not
    `forward`: `model(x)` runs the hooks around `forward`."""

    training: bool

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these dictionaries to exist
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_hooks_with_kwargs", set())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_pre_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(); a Module subclass "
                                  "must define forward(self, ...)")

    def __call__(self, *args, **kwargs):
        # torch's order: pre-hooks (which may replace the inputs), forward, forward hooks
        # (which may replace the output); hooks registered with_kwargs also see the keywords
        for key, hook in list(self._forward_pre_hooks.items()):
            if key in self._hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result!r}.")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward_hook = None
        if (self._backward_hooks or self._backward_pre_hooks) and is_grad_enabled():
            backward_hook = BackwardHook(self, self._backward_hooks, self._backward_pre_hooks)
            args = backward_hook.setup_input_hook(args)
        output = self.forward(*args, **kwargs)
        for key, hook in list(self._forward_hooks.items()):
            if key in self._hooks_with_kwargs:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        if backward_hook is not None:
            output = backward_hook.setup_output_hook(output)
        return output

    def _check_init(self, what):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call: call "
                                 f"super().__init__() first in {type(self).__name__}.__init__")

    def register_parameter(self, name: str, param):
        """Add a Parameter (or None, a placeholder such as a disabled bias)."""
        self._check_init("parameters")
        self._check_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign a {type(param).__name__} as parameter {name!r} of "
                            f"{type(self).__name__} (a Parameter or None is expected); wrap "
                            f"it: nn.Parameter(x)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True):
        """Add state that is not trained (BatchNorm's running_mean). Buffers follow the module
        through `double()` / `to()` and, when persistent, appear in `state_dict()`."""
        self._check_init("buffers")
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(np.asarray(tensor))
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module):
        """Add a child module (what `self.name = module` does)."""
        self._check_init("modules")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str) or "." in name or name == "":
            raise KeyError(f"module name must be a non-empty string without '.', got {name!r}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute {name!r} already exists")
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name, kind, own):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f"{kind} name must be non-empty and cannot contain '.', got {name!r}")
        if name not in own and (name in self.__dict__ or name in self._modules
                                or name in self._parameters or name in self._buffers):
            raise KeyError(f"attribute {name!r} already exists")

    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self._forget(name)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as parameter {name!r} "
                                f"of {type(self).__name__} (a Parameter or None is expected)")
            params[name] = None
            return
        modules = self.__dict__.get("_modules")
        if isinstance(value, Module):
            self._check_init("modules")
            self._forget(name)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as child module "
                                f"{name!r} (a Module or None is expected)")
            modules[name] = None
            return
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} as buffer {name!r} "
                                f"(a Tensor or None is expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def _forget(self, name):
        self.__dict__.pop(name, None)
        for d in ("_parameters", "_buffers", "_modules"):
            self.__dict__[d].pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name):
        # only called when normal lookup fails: look in the three registries
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(registry, ()):
                del self.__dict__[registry][name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(super().__dir__())
        keys += list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(name, module) for this module and every descendant, depth first; "" is self.
        A module reachable twice (shared weights) is listed once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is None:
                continue
            child_prefix = prefix + ("." if prefix else "") + name
            yield from child.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry, prefix, recurse, remove_duplicate=True):
        seen = set()
        owners = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for module_prefix, module in owners:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """("conv1.weight", Parameter), ... in registration order; a shared Parameter once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str):
        """The module at a dotted path, e.g. model.get_submodule("features.0")."""
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(f"{module._get_name()} has no submodule {part!r} "
                                     f"(looking up {target!r})")
            module = module._modules[part]
        return module

    def apply(self, fn):
        """Call fn(m) on every child (recursively) and then on self; returns self. The usual
        use is a custom initialisation: model.apply(init_weights)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def train(self, mode: bool = True):
        """Training mode (the default): Dropout drops, BatchNorm uses batch statistics and
        updates its running ones. Applies to every descendant; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"train(mode): mode must be a bool, got {mode!r}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: Dropout is the identity, BatchNorm uses its running statistics.
        It does not turn off gradient recording; use `with scratchnet.no_grad():` for that."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        """Freeze (False) or unfreeze every parameter, e.g. the pretrained part of a model in
        transfer learning."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True):
        """Forget the accumulated gradients before the next backward (they add up otherwise)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.data = np.zeros_like(p.grad.data)

    def to(self, *args, dtype=None, device=None):
        """Cast floating-point parameters and buffers in place (integer buffers such as
        num_batches_tracked keep their dtype). Accepts a dtype, and for code written for
        PyTorch a device, which must be the CPU."""
        for a in args:
            if isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda", "mps"):
                device = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
            else:
                dtype = a
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ValueError(f"scratchnet runs on the CPU only; got device {device!r}")
        if dtype is None:
            return self
        dtype = dtypes.as_dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to: only floating-point dtypes are allowed, got {dtype}")

        def cast(t):
            if t is not None and t.dtype.kind == "f" and t.dtype != dtype:
                t.data = t.data.astype(dtype)
                if t.grad is not None:
                    t.grad.data = t.grad.data.astype(dtype)

        for m in self.modules():
            for p in m._parameters.values():
                cast(p)
            for b in m._buffers.values():
                cast(b)
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    def cpu(self):
        return self

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An OrderedDict from PyTorch-style dotted names to tensors: each module's parameters,
        then its persistent buffers, then its children's entries. Values share memory with the
        model (detached unless keep_vars=True)."""
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def _own_state(self):
        """name -> the Tensor that state_dict would hold there (the live parameter/buffer)."""
        return self.state_dict(keep_vars=True)

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy every entry of `state_dict` into the parameter or buffer of the same name.

        Values may be Tensors or NumPy arrays (or anything np.asarray accepts, such as a CPU
        torch tensor); they are cast to the model's dtype. Returns (missing_keys,
        unexpected_keys). A shape mismatch is always an error; with strict=True a missing or
        unexpected key is too. All problems are reported together in one StateDictError, so a
        wrong checkpoint shows everything that is wrong with it at once.
        """
        own = self._own_state()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched, arrays = [], {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value, problem = _state_array(state_dict[key])
            if problem:
                mismatched.append(f'While copying the parameter named "{key}": {problem}.')
                continue
            arrays[key] = value
            if _is_uninitialized(target):
                continue     # a lazy layer's parameter takes its shape from the checkpoint
            if value.shape != target.shape:
                mismatched.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{tuple(value.shape)} from checkpoint, the shape in current "
                                  f"model is {tuple(target.shape)}.")
        errors = []
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in missing) + ".")
        errors += mismatched
        if errors:
            # nothing is copied: a failed load leaves the model as it was
            raise StateDictError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t"
                                 + "\n\t".join(errors))
        for key, target in own.items():
            if key in arrays:
                # in place: optimisers and shared modules keep pointing at the same tensor
                if _is_uninitialized(target):
                    target.materialize(arrays[key].shape)
                np.copyto(target.data, arrays[key], casting="unsafe")
                target._bump_version()
        return IncompatibleKeys(missing, unexpected)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """hook(module, args, output) runs after every forward (torch's signature); a non-None
        return value replaces the output. `args` are the positional inputs; with
        with_kwargs=True the hook is hook(module, args, kwargs, output). prepend=True runs it
        before the hooks already registered. Use it to capture activations (feature-map
        figures, Grad-CAM, the features of style transfer). Returns a handle;
        `handle.remove()` takes the hook off."""
        return self._add_hook(self._forward_hooks, hook, prepend, with_kwargs)

    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False):
        """hook(module, args) runs before forward; a non-None return value replaces the
        positional inputs (a tuple, or a single value that becomes a 1-tuple). With
        with_kwargs=True it is hook(module, args, kwargs) and returns None or a tuple
        (new_args, new_kwargs). prepend=True runs it first. Returns a handle."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook, *, prepend: bool = False):
        """hook(module, grad_input, grad_output) runs when the gradients with respect to the
        module's positional inputs are computed (torch's rules): grad_input and grad_output
        are tuples of Tensors (None for an input that is not a Tensor requiring grad); a
        non-None return value (a tuple like grad_input) replaces grad_input. Returns a
        handle. Grad-CAM can read a layer's grad_output[0] here; Tensor.register_hook on the
        layer's output (from a forward hook) is the other way."""
        return self._add_hook(self._backward_hooks, hook, prepend, False)

    def register_full_backward_pre_hook(self, hook, *, prepend: bool = False):
        """hook(module, grad_output) runs when the gradients with respect to the module's
        output(s) are computed, before the module's own backward; a non-None return value
        replaces grad_output. Returns a handle."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend, False)

    def _add_hook(self, hooks, hook, prepend, with_kwargs):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        if with_kwargs:
            self._hooks_with_kwargs.add(handle.id)
        return handle

    def _get_name(self):
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its constructor arguments);
        layers override it."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(child), 2)
                       for name, child in self._modules.items()]
        lines = extra_lines + child_lines
        if not lines:
            return self._get_name() + "()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{self._get_name()}({extra_lines[0]})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"
