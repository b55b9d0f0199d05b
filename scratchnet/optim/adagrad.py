"""Adagrad: each element's step shrinks with the sum of its squared gradients."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) as in torch.optim.Adagrad. For each parameter p with
    gradient g, at step t = 1, 2, ...:

        g <- -g                                    if maximize
        g <- g + weight_decay * p
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s <- s + g^2                               (s starts at initial_accumulator_value)
        p <- p - lr_t * g / (sqrt(s) + eps)

    Every array has the parameter's shape, any shape -> the same shape. Elements that got
    large gradients take ever smaller steps, rarely-updated ones keep large steps; since s
    only grows, the steps die out in the long run (RMSprop and Adadelta forget instead).

    Like torch, the state of every parameter is created when the optimizer is, so parameters
    that never get a gradient appear in state_dict() too.

    Args:
        params: iterable of Tensors, or of dicts (parameter groups with their own options).
        lr: learning rate.
        lr_decay: learning-rate decay per step.
        weight_decay: L2 penalty coefficient.
        initial_accumulator_value: starting value of the sum of squares.
        eps: added to the denominator so that it is never zero.
        maximize: climb the objective instead of descending it.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, *, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(self.state[p], p.data, group)

    @staticmethod
    def _init_state(state, param, group):
        state["step"] = 0
        state["sum"] = np.full_like(param, group["initial_accumulator_value"])

    def _validate(self, group):
        self._check(group["lr"] >= 0, "learning rate", group["lr"], "lr >= 0")
        self._check(group["lr_decay"] >= 0, "lr_decay value", group["lr_decay"], ">= 0")
        self._check(group["weight_decay"] >= 0, "weight_decay value", group["weight_decay"],
                    ">= 0")
        self._check(group["initial_accumulator_value"] >= 0,
                    "initial_accumulator_value value", group["initial_accumulator_value"],
                    ">= 0")
        self._check(group["eps"] >= 0, "epsilon value", group["eps"], ">= 0")

    def update(self, param, grad, state, group):
        if not state:
            self._init_state(state, param, group)
        state["step"] += 1
        t = state["step"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        lr_t = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        sum_sq = state["sum"]
        sum_sq += grad * grad
        param -= lr_t * (grad / (np.sqrt(sum_sq) + group["eps"]))
