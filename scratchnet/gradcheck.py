"""Gradient checking: compare a backward pass with central differences.

    report = scratchnet.gradcheck(lambda x, w: (x @ w).tanh(), [x, w])
    print(report)            # per input: worst element, numeric vs analytic
    assert report.passed

How it works. The output y = f(x) is contracted with a fixed random tensor P into the scalar
L = sum(y * P). Autograd gives dL/dx in one backward pass; central differences give
(L(x + eps e_i) - L(x - eps e_i)) / (2 eps) for every element i. Both run in float64.

Why a random projection and not `y.sum()`: with sum, every output gets the same weight 1, and
some wrong backwards are invisible. The backward of `x - x.mean()` is g - mean(g); for g = 1
that is 0, so a backward that returns zeros passes a sum-based check. A random P catches it.
"""
from __future__ import annotations

import numpy as np

from .autograd.grad_mode import no_grad
from .autograd.tensor import Tensor


class GradcheckError(AssertionError):
    pass


def worst_element(got, want, atol, rtol):
    """Compare `got` with `want` elementwise under |got - want| <= atol + rtol * |want|.

    Returns (n_bad, index, want_value, got_value): how many elements are outside the
    tolerance, and the one furthest outside it (NaN counts as worst; for an empty array the
    index is () and both values 0.0). One reporter for gradcheck and the exercise checker."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    err = np.abs(got - want)
    tol = atol + rtol * np.abs(want)
    n_bad = int((~(err <= tol)).sum())
    if not err.size:
        return n_bad, (), 0.0, 0.0
    score = np.where(np.isnan(err), np.inf, err - tol)
    flat = int(np.argmax(score))
    index = tuple(int(i) for i in np.unravel_index(flat, want.shape))
    return n_bad, index, float(want.reshape(-1)[flat]), float(got.reshape(-1)[flat])


class InputReport:
    """How one input's gradient compared."""

    def __init__(self, index, shape, analytic, numeric, atol, rtol):
        self.index = index
        self.shape = shape
        self.analytic = analytic
        self.numeric = numeric
        err = np.abs(analytic - numeric)
        self.max_abs_err = float(err.max()) if err.size else 0.0
        rel = err / np.maximum(np.abs(numeric), 1e-12)
        self.max_rel_err = float(rel.max()) if rel.size else 0.0
        self.n_bad, self.worst_index, self.worst_numeric, self.worst_analytic = \
            worst_element(analytic, numeric, atol, rtol)
        self.passed = self.n_bad == 0

    def __str__(self):
        head = (f"input {self.index} {tuple(self.shape)}: "
                f"{'ok' if self.passed else 'MISMATCH'}  max abs err {self.max_abs_err:.2e}, "
                f"max rel err {self.max_rel_err:.2e}")
        if self.passed:
            return head
        return (head + f"\n    {self.n_bad} of {self.analytic.size} elements outside tolerance;"
                f" worst at index {self.worst_index}:"
                f"\n    numeric (central differences) {self.worst_numeric:+.6e}"
                f"\n    analytic (your backward)      {self.worst_analytic:+.6e}")


class GradcheckReport:
    """Result of gradcheck: `.passed`, `.inputs` (an InputReport per checked input)."""

    def __init__(self, inputs, eps, atol, rtol, notes):
        self.inputs = inputs
        self.eps, self.atol, self.rtol = eps, atol, rtol
        self.notes = notes
        self.passed = all(r.passed for r in inputs)

    def __bool__(self):
        return self.passed

    def __str__(self):
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"gradcheck {verdict} (float64, eps={self.eps:g}, "
                 f"|analytic - numeric| <= {self.atol:g} + {self.rtol:g} * |numeric|)"]
        lines += ["  " + str(r).replace("\n", "\n  ") for r in self.inputs]
        lines += ["  note: " + n for n in self.notes]
        return "\n".join(lines)

    __repr__ = __str__


def _as_outputs(out):
    if isinstance(out, Tensor):
        return (out,)
    if isinstance(out, (tuple, list)) and all(isinstance(o, Tensor) for o in out):
        return tuple(out)
    raise TypeError(f"gradcheck: the function must return a Tensor or a tuple of Tensors, "
                    f"got {type(out).__name__}")


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_on_fail=False):
    """Check the gradient of `fn` with respect to every input that requires grad.

    inputs: a Tensor or a sequence. Float Tensors are copied to float64 (a Tensor keeps its
    requires_grad; a float ndarray is treated as requiring grad); anything else (ints, index
    arrays, Python numbers) is passed through unchanged and not checked.
    Returns a GradcheckReport; with raise_on_fail=True a failure raises GradcheckError.
    """
    if isinstance(inputs, (Tensor, np.ndarray)):
        inputs = (inputs,)
    xs, checked = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            t = Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad)
        elif isinstance(x, np.ndarray) and x.dtype.kind == "f":
            t = Tensor(x.astype(np.float64), requires_grad=True)
        else:
            t = x
        xs.append(t)
        if isinstance(t, Tensor) and t.requires_grad:
            checked.append(i)
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check; "
                         "create inputs with requires_grad=True")

    notes = []
    outs = _as_outputs(fn(*xs))
    rng = np.random.default_rng(seed)
    projections = [rng.standard_normal(o.shape) for o in outs]
    for o in outs:
        if o.dtype != np.float64:
            notes.append(f"an output has dtype {o.dtype}, not float64: the function "
                         "downcasts, so numeric differences are imprecise")

    # analytic: one backward of L = sum(y * P)
    total = None
    for o, p in zip(outs, projections):
        if o.requires_grad:
            term = (o * Tensor(p.astype(o.dtype))).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()
    analytic = {i: (xs[i].grad.data.astype(np.float64) if xs[i].grad is not None
                    else np.zeros(xs[i].shape)) for i in checked}

    def projected():
        with no_grad():
            res = _as_outputs(fn(*xs))
        return sum(float(np.sum(o.data.astype(np.float64) * p))
                   for o, p in zip(res, projections))

    reports = []
    for i in checked:
        x = xs[i].data
        numeric = np.zeros(x.shape)
        flat_x = x.reshape(-1)
        flat_n = numeric.reshape(-1)
        for k in range(flat_x.size):
            orig = flat_x[k]
            flat_x[k] = orig + eps
            plus = projected()
            flat_x[k] = orig - eps
            minus = projected()
            flat_x[k] = orig
            flat_n[k] = (plus - minus) / (2 * eps)
        reports.append(InputReport(i, x.shape, analytic[i], numeric, atol, rtol))

    report = GradcheckReport(reports, eps, atol, rtol, notes)
    if raise_on_fail and not report.passed:
        raise GradcheckError(str(report))
    return report
