"""The optimizer updates as one pass over a parameter's numbers.

SGD with momentum written with NumPy (scratchnet/optim/sgd.py) reads and writes a
parameter-sized array five times and allocates two temporaries per parameter; this kernel
does the same arithmetic element by element in one pass (ResNet-18's 11 M numbers: 15 ms
-> 6 ms a step on one core). Every operation rounds to the arrays' dtype in the same order as
the NumPy version (the scalars arrive already in that dtype), so both give identical bits.
"""
from __future__ import annotations

import numpy as np

from ._jit import jit


@jit
def sgd_momentum_step(param, grad, buf, lr, momentum, keep, weight_decay, maximize, nesterov):
    """One SGD step with an existing momentum buffer, in place.

    param, grad, buf: C-contiguous, one shape and dtype; lr, momentum, weight_decay and
    keep = 1 - dampening: scalars of that dtype. Per element:
        g = -grad if maximize else grad;  g = g + weight_decay * param (if weight_decay)
        buf = momentum * buf + keep * g
        param -= lr * (g + momentum * buf if nesterov else buf)
    """
    p, g, b = param.reshape(-1), grad.reshape(-1), buf.reshape(-1)
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        bi = b[i] * momentum
        bi = bi + keep * gi
        b[i] = bi
        step = gi + momentum * bi if nesterov else bi
        p[i] = p[i] - lr * step


@jit
def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, one_minus_beta1,
              beta2, one_minus_beta2, weight_decay, decay_factor, step_size, root_bc2, eps,
              maximize, amsgrad):
    """One Adam step with its moment buffers, in place (scratchnet/optim/adam.py's NumPy
    version, element by element: LeNet-5's Adam step read and wrote every buffer six times).

    param, grad, exp_avg, exp_avg_sq (and max_exp_avg_sq when amsgrad; any array otherwise):
    C-contiguous, one shape and dtype. The scalars come in that dtype: weight_decay is the L2
    coefficient (0 for none), decay_factor = 1 - lr * weight_decay for the decoupled kind (1
    for none), step_size = lr / (1 - beta1^t), root_bc2 = sqrt(1 - beta2^t). Per element:
        g = -grad if maximize else grad;  g = g + weight_decay * param
        param = param * decay_factor
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
        v = max(v_max, v) if amsgrad (kept in v_max)
        param = param - step_size * (m / (sqrt(v) / root_bc2 + eps))
    """
    p, g, m, v = param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1)
    vmax = max_exp_avg_sq.reshape(-1)
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        pi = p[i]
        if decay_factor != 1:
            pi = pi * decay_factor
        mi = m[i] * beta1
        mi = mi + one_minus_beta1 * gi
        m[i] = mi
        vi = v[i] * beta2
        vi = vi + one_minus_beta2 * (gi * gi)
        v[i] = vi
        if amsgrad:
            top = vmax[i]
            if not (top > vi or top != top):
                top = vi
            vmax[i] = top
            vi = top
        denom = np.sqrt(vi) / root_bc2 + eps
        p[i] = pi - step_size * (mi / denom)
