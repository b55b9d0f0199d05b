"""Adam: momentum on the gradient, scaled per element by a running RMS of the gradient."""
from __future__ import annotations

import numpy as np

from ..kernels.optim import adam_step
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) as in torch.optim.Adam. For each parameter p with gradient g,
    at step t = 1, 2, ...:

        g <- -g                                    if maximize
        g <- g + weight_decay * p                  (L2 penalty, coupled: it enters m and v)
        m <- beta1 * m + (1 - beta1) * g           first moment, a running mean of g
        v <- beta2 * v + (1 - beta2) * g^2         second moment, a running mean of g^2
        v_max <- max(v_max, v)                     if amsgrad; then v_max replaces v below
        m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)   (m, v start at 0: unbias)
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)

    Every array has the parameter's shape, any shape -> the same shape. The step of each
    element is about lr in size whatever the scale of its gradient, because m_hat / sqrt(v_hat)
    is a ratio of like units.

    The last line is computed as torch does, with the corrections written out:
    p <- p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).

    Args:
        params: iterable of Tensors, or of dicts (parameter groups with their own options).
        lr: learning rate.
        betas: (beta1, beta2), decay rates of the two moments, each in [0, 1).
        eps: added to the denominator so that it is never zero.
        weight_decay: L2 penalty coefficient (see AdamW for the decoupled kind).
        amsgrad: divide by the largest second moment seen so far (Reddi et al., 2018).
        maximize: climb the objective instead of descending it.
        decoupled_weight_decay: shrink p by (1 - lr * weight_decay) directly instead of adding
            to the gradient; True is AdamW.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _validate(self, group):
        beta1, beta2 = group["betas"]
        self._check(group["lr"] >= 0, "learning rate", group["lr"], "lr >= 0")
        self._check(group["eps"] >= 0, "epsilon value", group["eps"], ">= 0")
        self._check(0 <= beta1 < 1, "beta parameter at index 0", beta1, "0 <= beta1 < 1")
        self._check(0 <= beta2 < 1, "beta parameter at index 1", beta2, "0 <= beta2 < 1")
        self._check(group["weight_decay"] >= 0, "weight_decay value", group["weight_decay"],
                    ">= 0")

    def update(self, param, grad, state, group):
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        t = state["step"]
        buffers = (param, grad, state["exp_avg"], state["exp_avg_sq"],
                   state.get("max_exp_avg_sq", param))
        if all(a.flags.c_contiguous and a.dtype == param.dtype and a.shape == param.shape
               for a in buffers):
            # the same arithmetic as below, in one pass (scratchnet/kernels/optim.py)
            T = param.dtype.type
            decoupled = group["decoupled_weight_decay"]
            adam_step(*buffers, T(beta1), T(1 - beta1), T(beta2), T(1 - beta2),
                      T(0 if decoupled else weight_decay),
                      T(1 - lr * weight_decay if decoupled and weight_decay != 0 else 1),
                      T(lr / (1 - beta1 ** t)), T((1 - beta2 ** t) ** 0.5), T(eps),
                      bool(group["maximize"]), bool(group["amsgrad"]))
            return
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * (grad * grad)
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        denom = np.sqrt(v) / bias_correction2 ** 0.5 + eps
        param -= (lr / bias_correction1) * (m / denom)
