"""RMSprop: divide the gradient by a running RMS of recent gradients."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e) as in torch.optim.RMSprop. For each parameter p with
    gradient g, every step:

        g <- -g                                    if maximize
        g <- g + weight_decay * p
        v <- alpha * v + (1 - alpha) * g^2         running mean of g^2
        a <- sqrt(v) + eps, or if centered:
             gbar <- alpha * gbar + (1 - alpha) * g,   a <- sqrt(v - gbar^2) + eps
        b <- momentum * b + g / a,  p <- p - lr * b     if momentum > 0
        p <- p - lr * g / a                             otherwise

    Every array has the parameter's shape, any shape -> the same shape. Centered RMSprop
    divides by an estimate of the standard deviation of g instead of its RMS.

    Args:
        params: iterable of Tensors, or of dicts (parameter groups with their own options).
        lr: learning rate.
        alpha: decay rate of the running averages.
        eps: added to the denominator so that it is never zero.
        weight_decay: L2 penalty coefficient.
        momentum: factor of the momentum buffer (0 = none).
        centered: normalise by the variance of g rather than its mean square.
        maximize: climb the objective instead of descending it.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, group):
        self._check(group["lr"] >= 0, "learning rate", group["lr"], "lr >= 0")
        self._check(group["eps"] >= 0, "epsilon value", group["eps"], ">= 0")
        self._check(group["momentum"] >= 0, "momentum value", group["momentum"], ">= 0")
        self._check(group["weight_decay"] >= 0, "weight_decay value", group["weight_decay"],
                    ">= 0")
        self._check(group["alpha"] >= 0, "alpha value", group["alpha"], ">= 0")

    def update(self, param, grad, state, group):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        if weight_decay != 0:
            grad = grad + weight_decay * param
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * (grad * grad)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            param -= lr * buf
        else:
            param -= lr * (grad / avg)
