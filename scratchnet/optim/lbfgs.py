"""L-BFGS: a quasi-Newton method that remembers the last few steps to bend the gradient into
a better direction. Used in neural style transfer, where the "parameters" are one image.

Follows torch.optim.LBFGS (arguments, defaults, state and stopping rules), so that its iterates
agree with torch's on the same problem. The algorithm is Nocedal & Wright, Numerical
Optimization (2nd ed.): Algorithm 7.4 (the two-loop recursion) and 7.5 (L-BFGS), and for the
optional line search Algorithms 3.5 / 3.6 (strong Wolfe conditions, bracketing then zooming
with cubic interpolation, eq. 3.59).
"""
from __future__ import annotations

import copy

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..autograd.tensor import Tensor
from .optimizer import Optimizer


def cubic_minimizer(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2 (Nocedal &
    Wright eq. 3.59), clipped to `bounds` (default: the interval between x1 and x2). When the
    cubic has no minimum (negative discriminant) the middle of the bounds is returned.
    Scalars -> scalar."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2
    d2 = disc ** 0.5
    # written from whichever end is on the left, so that the formula never divides by a
    # difference taken in the wrong direction
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                 max_ls=25):
    """Line search along direction d from the current point (loss f, flat gradient g,
    slope gtd = g.d) for a step t satisfying the strong Wolfe conditions

        f(t) <= f + c1 * t * gtd            (sufficient decrease)
        |f'(t)| <= -c2 * gtd                (curvature: the slope has flattened)

    `evaluate(t)` returns (loss, flat gradient) at the point + t * d. First the step grows
    (each new trial a cubic guess in [t + 0.01 (t - t_prev), 10 t]) until an interval is known
    to hold an acceptable step; then the interval shrinks around it by cubic interpolation,
    with a trial forced at least 10% of the interval from its ends when the previous trial
    already crowded an end. At most `max_ls` evaluations after the first.

    Returns (loss, flat gradient, t, number of evaluations)."""
    d_norm = float(np.abs(d).max())
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    # bracketing: each side is [t, f, g, gtd]
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            sides = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:
            sides = [[t, f_new, g_new, gtd_new]]
            done = True
            break
        if gtd_new >= 0:
            sides = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        guess = cubic_minimizer(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = guess
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_ls:
        # out of evaluations while still growing: settle for the better of 0 and t
        sides = [[0.0, f, g, None], [t, f_new, g_new, None]]

    insufficient_progress = False
    low, high = (0, 1) if sides[0][1] <= sides[-1][1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(sides[1][0] - sides[0][0]) * d_norm < tolerance_change:
            break
        (a, fa, _, ga), (b, fb, _, gb) = sides
        t = cubic_minimizer(a, fa, ga, b, fb, gb)
        left, right = min(a, b), max(a, b)
        eps = 0.1 * (right - left)
        if min(right - t, t - left) < eps:
            # the guess hugs an end of the interval: once is allowed, twice in a row (or a
            # guess on or past an end) moves it 10% inside, so the interval keeps shrinking
            if insufficient_progress or t >= right or t <= left:
                t = right - eps if abs(t - right) < abs(t - left) else left + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= sides[low][1]:
            sides[high] = [t, f_new, g_new, gtd_new]
            low, high = (0, 1) if sides[0][1] <= sides[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (sides[high][0] - sides[low][0]) >= 0:
                # the slope at t points back towards the old low end: it becomes the high end
                sides[high] = sides[low]
            sides[low] = [t, f_new, g_new, gtd_new]
    t, f_new, g_new, _ = sides[low]
    return f_new, g_new, t, evals


class LBFGS(Optimizer):
    """L-BFGS as torch.optim.LBFGS. Each `step(closure)` runs up to `max_iter` iterations:

        d = -H g                 H g by the two-loop recursion over the last `history_size`
                                 pairs s = x_{k+1} - x_k, y = g_{k+1} - g_k (a pair is kept only
                                 when y.s > 1e-10, so H stays positive definite); the initial
                                 H is (y.s / y.y) I from the newest pair
        x <- x + t d             t = lr, except on the very first iteration:
                                 t = min(1, 1 / ||g||_1) * lr, since there is no curvature yet;
                                 with line_search_fn="strong_wolfe", t comes from a strong
                                 Wolfe line search starting at that value

    and stops early when max |g| <= tolerance_grad, when the directional derivative g.d or the
    step max |t d| or the change of the loss falls below tolerance_change, or after `max_eval`
    closure calls (default max_iter * 5 // 4). The closure re-evaluates the loss with a fresh
    backward and returns it; step() returns the loss of its first call.

    All parameters are treated as one flat vector x of N numbers (float64 in, float64 through;
    float32 stays float32). One parameter group only, as in torch.

    Args:
        params: iterable of Tensors (one group).
        lr: step length multiplier (1 is the natural quasi-Newton step).
        max_iter: iterations per step().
        max_eval: closure calls per step() (default max_iter * 5 // 4).
        tolerance_grad: stop when the largest gradient entry is at most this.
        tolerance_change: stop when the step, the loss change or g.d is below this.
        history_size: how many (s, y) pairs to remember.
        line_search_fn: None (fixed step) or "strong_wolfe".
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(f"LBFGS: takes one parameter group (all parameters form one "
                             f"vector), got {len(self.param_groups)}")
        self._params = self.param_groups[0]["params"]

    def _validate(self, group):
        self._check(group["lr"] > 0, "learning rate", group["lr"], "lr > 0")
        self._check(group["max_iter"] >= 1, "max_iter", group["max_iter"], ">= 1")
        self._check(group["max_eval"] >= 1, "max_eval", group["max_eval"], ">= 1")
        self._check(group["history_size"] >= 1, "history_size", group["history_size"],
                    ">= 1")
        self._check(group["line_search_fn"] in (None, "strong_wolfe"), "line_search_fn",
                    group["line_search_fn"], "None or 'strong_wolfe'")

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS: takes one parameter group (all parameters form one "
                             "vector); add_param_group would make a second")
        super().add_param_group(param_group)

    def _flat_grad(self):
        """(N,) gradient of all parameters in order; zeros for a parameter without a grad."""
        parts = []
        for p in self._params:
            if p.grad is None:
                parts.append(np.zeros(p.data.size, dtype=p.data.dtype))
            else:
                parts.append(self._grad_array(p).reshape(-1))
        return np.concatenate(parts)

    def _flat_params(self):
        return np.concatenate([p.data.reshape(-1) for p in self._params])

    def _move(self, t, d):
        """x <- x + t d, in place in every parameter's array."""
        offset = 0
        for p in self._params:
            n = p.data.size
            p.data += (t * d[offset:offset + n]).reshape(p.data.shape).astype(p.data.dtype,
                                                                             copy=False)
            p._bump_version()
            offset += n

    def _set(self, x):
        offset = 0
        for p in self._params:
            n = p.data.size
            p.data[...] = x[offset:offset + n].reshape(p.data.shape)
            p._bump_version()
            offset += n

    def _evaluate(self, closure):
        with enable_grad():
            loss = closure()
        return loss, float(loss.item() if isinstance(loss, Tensor) else loss)

    def step(self, closure=None):
        """Up to max_iter L-BFGS iterations. `closure()` must zero the grads, compute the
        loss, call backward and return the loss; it is called several times per step."""
        if closure is None:
            raise ValueError("LBFGS.step needs a closure: a function that zeroes the grads, "
                             "computes the loss, calls loss.backward() and returns the loss "
                             "(L-BFGS evaluates the loss several times per step)")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search = group["history_size"], group["line_search_fn"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss, loss = self._evaluate(closure)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if np.abs(g).max() <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag, prev_g, prev_loss = (state.get("H_diag"), state.get("prev_flat_grad"),
                                     state.get("prev_loss"))
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = g - prev_g
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y @ y)
                d = self._two_loop(g, old_dirs, old_stps, ro, H_diag)
            prev_g = g.copy()
            prev_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(g).sum())) * lr
            else:
                t = lr
            gtd = float(g @ d)
            if gtd > -tol_change:
                # d is not a descent direction any more (or barely): nothing to gain
                break

            if line_search == "strong_wolfe":
                x0 = self._flat_params()

                def along(step, x0=x0, d=d):
                    self._move(step, d)
                    _, f_step = self._evaluate(closure)
                    g_step = self._flat_grad()
                    self._set(x0)
                    return f_step, g_step

                loss, g, t, ls_evals = strong_wolfe(along, t, d, loss, g, gtd,
                                                    tolerance_change=tol_change)
                self._move(t, d)
                opt_cond = np.abs(g).max() <= tol_grad
            else:
                self._move(t, d)
                ls_evals = 0
                opt_cond = False
                if n_iter != max_iter:
                    # the last iteration's loss would be thrown away: the next step()
                    # evaluates the closure first anyway
                    _, loss = self._evaluate(closure)
                    g = self._flat_grad()
                    opt_cond = np.abs(g).max() <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals

            if n_iter == max_iter or evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_g, prev_loss=prev_loss)
        self._steps_taken += 1
        return orig_loss

    @staticmethod
    def _two_loop(g, old_dirs, old_stps, ro, H_diag):
        """-H g by Nocedal & Wright's Algorithm 7.4: (N,) -> (N,). old_dirs are the y's,
        old_stps the s's, ro the 1 / (y.s)'s, oldest first."""
        q = -g
        al = [0.0] * len(old_dirs)
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = float(old_stps[i] @ q) * ro[i]
            q = q - al[i] * old_dirs[i]
        r = q * H_diag
        for i in range(len(old_dirs)):
            be = float(old_dirs[i] @ r) * ro[i]
            r = r + (al[i] - be) * old_stps[i]
        return r

    def update(self, param, grad, state, group):
        raise NotImplementedError("LBFGS updates all parameters together in step(closure)")

    def state_dict(self) -> dict:
        """torch's layout: the whole state sits under parameter 0 (func_evals, n_iter, d, t,
        old_dirs, old_stps, ro, H_diag, prev_flat_grad, prev_loss). Copies."""
        sd = super().state_dict()
        sd["state"] = {i: copy.deepcopy(s) for i, s in sd["state"].items()}
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what state_dict() saved (flat vectors and history lists are copied and cast
        to the parameters' dtype)."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self._params):
            raise ValueError(f"LBFGS.load_state_dict: the saved state is for "
                             f"{[len(g['params']) for g in groups]} parameters in "
                             f"{len(groups)} group(s); this optimizer has {len(self._params)} "
                             f"parameters in 1 group")
        n = sum(p.data.size for p in self._params)
        dtype = self._params[0].data.dtype
        restored = {}
        for key, value in state_dict["state"].get(0, {}).items():
            if key in ("d", "prev_flat_grad"):
                value = np.array(value, dtype=dtype)
                if value.shape != (n,):
                    raise ValueError(f"LBFGS.load_state_dict: state {key!r} has shape "
                                     f"{value.shape}, the parameters hold ({n},) numbers")
            elif key in ("old_dirs", "old_stps"):
                value = [np.array(v, dtype=dtype) for v in value]
            elif key == "ro":
                value = [float(v) for v in value]
            elif key in ("func_evals", "n_iter"):
                value = int(value)
            elif value is not None:
                value = float(np.asarray(value))
            restored[key] = value
        self.state.clear()
        if restored:
            self.state[self._params[0]] = restored
        saved = {k: copy.deepcopy(v) for k, v in groups[0].items() if k != "params"}
        params = self.param_groups[0]["params"]
        self.param_groups[0].clear()
        self.param_groups[0].update(saved)
        self.param_groups[0]["params"] = params
