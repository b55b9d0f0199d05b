"""Optimizer: what every update rule shares.

An optimizer holds `param_groups`, a list of dicts. Each group has its own `params` and its own
hyper-parameters (`lr`, `momentum`, ...); whatever a group does not set comes from `defaults`.
That is how transfer learning tunes a pretrained backbone with a small lr while a new head
learns fast, and how a frozen layer (requires_grad=False, so its grad stays None) is skipped.

`step()` walks every parameter that has a gradient and hands plain ndarrays to the subclass's
`update(param, grad, state, group)`, which changes `param` in place. The update is not recorded
by autograd: it edits `p.data`, the array the parameter (and every module holding it) shares.
`state[p]` is the dict of arrays (momentum buffers, running averages) that an update keeps for
parameter `p` between steps.

`state_dict()` follows torch's layout: parameters are numbered across the groups in order, the
state is keyed by those numbers, and each saved group lists the numbers of its parameters::

    {"state": {0: {"momentum_buffer": array(...)}, 1: {...}},
     "param_groups": [{"lr": 0.01, "momentum": 0.9, ..., "params": [0, 1]}]}
"""
from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..autograd.tensor import Tensor


class Optimizer:
    """Base class. A subclass passes its hyper-parameter `defaults` to `__init__`, checks a
    group's values in `_validate(group)`, and implements `update(param, grad, state, group)`."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state = defaultdict(dict)
        self.param_groups = []
        # lets a scheduler warn when it is stepped before the optimizer ever was
        self._steps_taken = 0
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params should be an iterable of Tensors or of dicts "
                            f"(parameter groups), got a single Tensor of shape {params.shape}; "
                            f"pass [tensor] or model.parameters()")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self):
        return type(self).__name__

    def _validate(self, group: dict) -> None:
        """Raise ValueError for a hyper-parameter out of range (the subclass's rules)."""

    def _check(self, ok: bool, what: str, value, expected: str) -> None:
        if not ok:
            raise ValueError(f"{self._name}: invalid {what}: {value!r} (expected {expected})")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options, e.g. unfreezing a layer halfway
        through fine-tuning: `opt.add_param_group({"params": layer.parameters(), "lr": 1e-4})`.
        Options the group leaves out come from `defaults`."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a parameter group must be a dict, "
                            f"got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry, "
                             f"got keys {sorted(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: parameters must come in an ordered collection (a "
                            f"list), not a set: a set's order changes between runs, and the "
                            f"order numbers the state in state_dict()")
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: can only optimize Tensors, but one of the "
                                f"params is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: can't optimize a non-leaf Tensor (one computed "
                                 f"by an op); optimize the leaf it came from")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self._name}: a parameter group lists the same parameter twice; "
                             f"it would be updated twice per step")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if taken.intersection(ids):
            raise ValueError(f"{self._name}: some parameters appear in more than one "
                             f"parameter group")
        group = {k: v for k, v in param_group.items() if k != "params"}
        for name, value in self.defaults.items():
            group.setdefault(name, value)
        self._validate(group)
        group["params"] = params
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of the last backward (they accumulate otherwise). With
        set_to_none the grads become None, so a parameter that gets no gradient in the next
        backward is skipped by step() instead of being updated with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.data.fill(0)

    def step(self, closure=None):
        """Update every parameter that has a gradient, once. `closure`, if given, re-evaluates
        the model and returns the loss (it runs with grad enabled); step() returns that loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            options = {k: _python_number(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.update(p.data, self._grad_array(p), self.state[p], options)
                # the values changed in place: a graph that saved them can no longer backprop
                p._bump_version()
        self._steps_taken += 1
        return loss

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        """One step for one parameter: change `param` in place from `grad` (same shape and
        dtype), keeping whatever the rule remembers in `state`. `group` holds the options."""
        raise NotImplementedError

    def _grad_array(self, p):
        g = p.grad.data if isinstance(p.grad, Tensor) else np.asarray(p.grad)
        if g.shape != p.data.shape:
            raise ValueError(f"{self._name}: parameter {self._index_of(p)} has shape "
                             f"{p.data.shape} but its grad has shape {g.shape}")
        if g.dtype != p.data.dtype:
            raise TypeError(f"{self._name}: parameter {self._index_of(p)} is {p.data.dtype} "
                            f"but its grad is {g.dtype}; a grad must have its parameter's dtype")
        return g

    def _index_of(self, p):
        params = [q for g in self.param_groups for q in g["params"]]
        return next(i for i, q in enumerate(params) if q is p)

    def state_dict(self) -> dict:
        """The optimizer's state as plain data: `{"state": {index: {name: array}},
        "param_groups": [{option: value, ..., "params": [index, ...]}]}`, parameters numbered
        across groups in order, as torch does. Arrays are copies, so a saved state dict does
        not change as training goes on."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index[id(p)] = len(index)
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what state_dict() saved, into an optimizer built over the same parameters
        in the same order. Arrays are copied and cast to each parameter's dtype."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{self._name}.load_state_dict: the saved state has "
                             f"{len(saved_groups)} parameter groups, this optimizer has "
                             f"{len(self.param_groups)}")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"{self._name}.load_state_dict: parameter group {i} has "
                                 f"{len(group['params'])} parameters, the saved group has "
                                 f"{len(saved['params'])}")
        param_of = {}
        for group, saved in zip(self.param_groups, saved_groups):
            param_of.update(zip(saved["params"], group["params"]))
        state = defaultdict(dict)
        for index, saved_state in state_dict["state"].items():
            if index not in param_of:
                continue
            p = param_of[index]
            restored = {}
            for key, value in saved_state.items():
                if key == "step":
                    restored[key] = int(np.asarray(value).item())
                    continue
                value = np.array(value, dtype=p.data.dtype)
                if value.shape != p.data.shape:
                    raise ValueError(f"{self._name}.load_state_dict: state {key!r} of "
                                     f"parameter {index} has shape {value.shape}, the parameter "
                                     f"has shape {p.data.shape}")
                restored[key] = value
            state[p] = restored
        for group, saved in zip(self.param_groups, saved_groups):
            params = group["params"]
            group.clear()
            group.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
            for name, value in self.defaults.items():
                group.setdefault(name, value)
            group["params"] = params
        self.state = state

    def __repr__(self):
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _python_number(value):
    # a NumPy float64 scalar is strongly typed: lr * float32_array would come out float64 and
    # upcast the state buffers. A Python float takes the array's dtype.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return tuple(_python_number(v) for v in value)
    return value
