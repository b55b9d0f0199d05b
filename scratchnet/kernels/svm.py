"""A linear SVM with the hinge loss, solved in the dual by coordinate descent (Hsieh et al.,
"A Dual Coordinate Descent Method for Large-scale Linear SVM", ICML 2008: the L1-loss solver
of LIBLINEAR, which R-CNN's code called).

Primal, for rows x_i with labels y_i in {-1, +1} and per-row costs C_i:

    min_w  1/2 ||w||^2 + sum_i C_i max(0, 1 - y_i w.x_i)

Dual: max_a sum_i a_i - 1/2 ||sum_i a_i y_i x_i||^2 with 0 <= a_i <= C_i, and w = sum a_i y_i x_i.
One coordinate at a time has a closed-form optimum: with G = y_i w.x_i - 1 (the gradient in
a_i) and Q_ii = ||x_i||^2, a_i <- clip(a_i - G / Q_ii, 0, C_i), then w moves by the change.
A bias is a constant column of X (so it is regularised with w, as in LIBLINEAR).
"""
from __future__ import annotations

import numpy as np

from ._jit import jit


@jit
def linear_svm_dual_cd(X, y, C, max_epochs, tol, seed):
    """X (n, d) float64, y (n,) +-1 float64, C (n,) float64 -> (w (d,), alpha (n,), epochs).

    Stops when the largest projected gradient minus the smallest falls below tol (LIBLINEAR's
    rule) or after max_epochs passes over the rows, each in a fresh random order."""
    n, d = X.shape
    w = np.zeros(d)
    alpha = np.zeros(n)
    q = np.empty(n)
    for i in range(n):
        s = 0.0
        for j in range(d):
            s += X[i, j] * X[i, j]
        q[i] = s
    np.random.seed(seed)
    order = np.arange(n)
    epoch = 0
    while epoch < max_epochs:
        epoch += 1
        np.random.shuffle(order)
        pg_max = -np.inf
        pg_min = np.inf
        for k in range(n):
            i = order[k]
            if q[i] == 0.0:
                continue
            s = 0.0
            for j in range(d):
                s += w[j] * X[i, j]
            g = y[i] * s - 1.0
            if alpha[i] == 0.0:
                pg = min(g, 0.0)
            elif alpha[i] == C[i]:
                pg = max(g, 0.0)
            else:
                pg = g
            pg_max = max(pg_max, pg)
            pg_min = min(pg_min, pg)
            if pg != 0.0:
                old = alpha[i]
                alpha[i] = min(max(old - g / q[i], 0.0), C[i])
                step = (alpha[i] - old) * y[i]
                for j in range(d):
                    w[j] += step * X[i, j]
        if pg_max - pg_min < tol:
            break
    return w, alpha, epoch
