"""AdamW: Adam with weight decay taken out of the gradient."""
from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019) as in torch.optim.AdamW: Adam whose weight decay
    shrinks the parameter directly, before the Adam step,

        p <- p - lr * weight_decay * p

    instead of adding weight_decay * p to the gradient. In Adam an L2 term in the gradient is
    divided by sqrt(v_hat) like the rest, so parameters with large gradients are hardly
    decayed; decoupled, every parameter decays at the same rate. The rest of the step is
    Adam's (see `Adam`); shapes: any shape -> the same shape.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
