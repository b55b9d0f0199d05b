"""Adadelta: steps in the units of the parameter, from two running averages."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012) as in torch.optim.Adadelta; the ConvNetJS CIFAR-10 demo
    trains with it. For each parameter p with gradient g, every step:

        g <- -g                                    if maximize
        g <- g + weight_decay * p
        v <- rho * v + (1 - rho) * g^2             running mean of g^2
        d = sqrt(u + eps) / sqrt(v + eps) * g      the step, in the units of p
        u <- rho * u + (1 - rho) * d^2             running mean of d^2
        p <- p - lr * d

    Every array has the parameter's shape, any shape -> the same shape. The ratio of the two
    RMS values gives the step the units of the parameter, so the original method needs no
    learning rate at all (lr=1.0, the default, leaves d as it is).

    Args:
        params: iterable of Tensors, or of dicts (parameter groups with their own options).
        lr: scale applied to d.
        rho: decay rate of the running averages, in [0, 1].
        eps: keeps both square roots away from zero (and starts the steps off).
        weight_decay: L2 penalty coefficient.
        maximize: climb the objective instead of descending it.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *,
                 maximize=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, group):
        self._check(group["lr"] >= 0, "learning rate", group["lr"], "lr >= 0")
        self._check(0 <= group["rho"] <= 1, "rho value", group["rho"], "0 <= rho <= 1")
        self._check(group["eps"] >= 0, "epsilon value", group["eps"], ">= 0")
        self._check(group["weight_decay"] >= 0, "weight_decay value", group["weight_decay"],
                    ">= 0")

    def update(self, param, grad, state, group):
        rho, eps = group["rho"], group["eps"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            state["acc_delta"] = np.zeros_like(param)
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * (grad * grad)
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * (delta * delta)
        param -= group["lr"] * delta
