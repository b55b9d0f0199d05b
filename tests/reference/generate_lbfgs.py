"""Generate the stored torch.optim.LBFGS iterates used by tests/test_lbfgs.py.

    pip install torch==2.13.0
    python tests/reference/generate_lbfgs.py

Writes tests/reference/lbfgs_trajectories.npz (torch and numpy versions inside). Every case
below calls `step(closure)` `STEPS` times on a float64 problem whose loss and gradient are
computed in NumPy (`PROBLEMS`), identically here and in the test, so that a mismatch can only
come from L-BFGS itself. Stored per case: the parameters after every step, the loss each step
returned, the running func_evals / n_iter counters, and the final state (d, t, H_diag, the
history length).

The problems, the cases and the closure live here (torch is imported only by `main`), so the
test rebuilds exactly the same cases and checks that the stored file is not stale.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "lbfgs_trajectories.npz")
STEPS = 4


def rosenbrock(parts):
    """Extended Rosenbrock over the concatenation x of `parts` (two arrays, so that the
    optimizer's flattening of several parameters is exercised):
    f = sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2. Returns (f, [df/dpart, ...])."""
    x = np.concatenate([p.reshape(-1) for p in parts])
    a, b = x[:-1], x[1:]
    f = float(np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2))
    g = np.zeros_like(x)
    g[:-1] += -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    g[1:] += 200.0 * (b - a * a)
    return f, _split(g, parts)


def _lsq_data():
    rng = np.random.default_rng(17)
    A = rng.standard_normal((12, 6)) * np.array([1.0, 4.0, 0.5, 1.0, 2.0, 0.2])
    y = rng.standard_normal(12)
    return A, y


def least_squares(parts):
    """f = 1/2 ||A x - y||^2 with a fixed, badly scaled 12 x 6 matrix A; x is the
    concatenation of `parts`. Returns (f, [df/dpart, ...])."""
    A, y = _lsq_data()
    x = np.concatenate([p.reshape(-1) for p in parts])
    r = A @ x - y
    return float(0.5 * r @ r), _split(A.T @ r, parts)


def _split(g, parts):
    out, offset = [], 0
    for p in parts:
        out.append(g[offset:offset + p.size].reshape(p.shape))
        offset += p.size
    return out


PROBLEMS = {"rosenbrock": rosenbrock, "least_squares": least_squares}


def start(problem):
    """The starting parameters of a problem: a (2, 2) array and a (2,) array for the
    six-dimensional Rosenbrock, a (4,) and a (2,) for least squares."""
    if problem == "rosenbrock":
        return [np.array([[-1.2, 1.0], [-0.5, 0.8]]), np.array([1.5, -0.3])]
    return [np.array([0.5, -1.0, 2.0, 0.0]), np.array([1.0, -0.5])]


CASES = {
    "rosenbrock_wolfe": {"problem": "rosenbrock",
                         "kwargs": {"line_search_fn": "strong_wolfe", "max_iter": 10}},
    "rosenbrock_wolfe_history3": {"problem": "rosenbrock",
                                  "kwargs": {"line_search_fn": "strong_wolfe", "max_iter": 12,
                                             "history_size": 3}},
    "rosenbrock_fixed": {"problem": "rosenbrock", "kwargs": {"lr": 0.1, "max_iter": 10}},
    "rosenbrock_fixed_max_eval": {"problem": "rosenbrock",
                                  "kwargs": {"lr": 0.05, "max_iter": 20, "max_eval": 7,
                                             "history_size": 2}},
    "lsq_wolfe": {"problem": "least_squares",
                  "kwargs": {"line_search_fn": "strong_wolfe", "max_iter": 5}},
    "lsq_wolfe_converges": {"problem": "least_squares",
                            "kwargs": {"line_search_fn": "strong_wolfe", "max_iter": 50,
                                       "tolerance_grad": 1e-9, "tolerance_change": 1e-12}},
    "lsq_fixed": {"problem": "least_squares", "kwargs": {"lr": 1, "max_iter": 6,
                                                         "history_size": 4}},
    "lsq_fixed_lr": {"problem": "least_squares", "kwargs": {"lr": 0.3, "max_iter": 8}},
}


def config_json(name):
    return json.dumps(CASES[name], sort_keys=True)


def run(optimizer_cls, make_param, set_grad, to_numpy, name):
    """Drive any LBFGS class through one case. `make_param(array)` builds a parameter,
    `set_grad(param, array)` stores its gradient and `to_numpy(param)` reads it back: the only
    library-specific parts. Returns {"x": (STEPS + 1, N) iterates, "loss": (STEPS,),
    "func_evals": (STEPS,), "n_iter": (STEPS,)} and the optimizer."""
    case = CASES[name]
    fn = PROBLEMS[case["problem"]]
    params = [make_param(a.copy()) for a in start(case["problem"])]
    opt = optimizer_cls(params, **case["kwargs"])

    def closure():
        f, grads = fn([to_numpy(p) for p in params])
        for p, g in zip(params, grads):
            set_grad(p, g.copy())
        return f

    xs = [np.concatenate([to_numpy(p).reshape(-1) for p in params])]
    out = {"loss": [], "func_evals": [], "n_iter": []}
    for _ in range(STEPS):
        out["loss"].append(float(opt.step(closure)))
        state = opt.state[params[0]]
        out["func_evals"].append(state["func_evals"])
        out["n_iter"].append(state["n_iter"])
        xs.append(np.concatenate([to_numpy(p).reshape(-1) for p in params]))
    result = {k: np.array(v) for k, v in out.items()}
    result["x"] = np.stack(xs)
    return result, opt


def final_state(opt, first_param, as_float):
    """d, t, H_diag and the history length after the last step, as plain NumPy values."""
    s = opt.state[first_param]
    return {"d": np.asarray(as_float(s["d"])), "t": np.float64(as_float(s["t"])),
            "H_diag": np.float64(as_float(s["H_diag"])), "history": np.int64(len(s["old_dirs"]))}


def main():
    import torch

    def make_param(a):
        return torch.tensor(a, dtype=torch.float64, requires_grad=True)

    def set_grad(p, g):
        p.grad = torch.from_numpy(g)

    def to_numpy(p):
        return p.detach().numpy().copy()

    def as_float(v):
        return v.detach().numpy() if torch.is_tensor(v) else v

    store = {"torch_version": np.array(torch.__version__),
             "numpy_version": np.array(np.__version__)}
    for name in CASES:
        store[f"{name}|config"] = np.array(config_json(name))
        result, opt = run(torch.optim.LBFGS, make_param, set_grad, to_numpy, name)
        for key, value in result.items():
            store[f"{name}|{key}"] = value
        first = opt.param_groups[0]["params"][0]
        for key, value in final_state(opt, first, as_float).items():
            store[f"{name}|state|{key}"] = value
    np.savez_compressed(OUT, **store)
    print(f"{os.path.basename(OUT)}: {len(CASES)} cases x {STEPS} steps, "
          f"torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
