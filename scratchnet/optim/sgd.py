"""Stochastic gradient descent, with optional momentum and Nesterov momentum."""
from __future__ import annotations

from ..kernels.optim import sgd_momentum_step
from .optimizer import Optimizer


class SGD(Optimizer):
    """SGD as in torch.optim.SGD. For each parameter p with gradient g, every step:

        g <- -g                                  if maximize
        g <- g + weight_decay * p                (the gradient of 0.5 * wd * ||p||^2)
        b <- g                                   on the first step, then
        b <- momentum * b + (1 - dampening) * g  (momentum buffer, only if momentum != 0)
        g <- g + momentum * b  if nesterov, else g <- b
        p <- p - lr * g

    Every array has the parameter's shape, any shape -> the same shape. With momentum the
    buffer remembers a running direction, so steps keep moving along a narrow valley instead
    of bouncing between its walls; Nesterov looks one momentum step ahead.

    Args:
        params: iterable of Tensors, or of dicts (parameter groups with their own options).
        lr: learning rate.
        momentum: factor of the momentum buffer (0 = plain SGD).
        dampening: how much of the new gradient enters the buffer is scaled by (1 - dampening).
        weight_decay: L2 penalty coefficient.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening == 0).
        maximize: climb the objective instead of descending it.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, group):
        self._check(group["lr"] >= 0, "learning rate", group["lr"], "lr >= 0")
        self._check(group["momentum"] >= 0, "momentum value", group["momentum"], ">= 0")
        self._check(group["weight_decay"] >= 0, "weight_decay value", group["weight_decay"],
                    ">= 0")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{self._name}: Nesterov momentum requires a momentum and zero "
                             f"dampening, got momentum={group['momentum']!r}, "
                             f"dampening={group['dampening']!r}")

    def update(self, param, grad, state, group):
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        buf = state.get("momentum_buffer")
        if (momentum != 0 and buf is not None and buf.shape == param.shape
                and buf.dtype == param.dtype
                and all(a.flags.c_contiguous for a in (param, grad, buf))):
            # the same arithmetic as below, in one pass (scratchnet/kernels/optim.py)
            t = param.dtype.type
            sgd_momentum_step(param, grad, buf, t(lr), t(momentum), t(1 - group["dampening"]),
                              t(weight_decay), bool(group["maximize"]),
                              bool(group["nesterov"]))
            return
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + weight_decay * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # copy: grad may be the parameter's .grad array itself
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= lr * grad
