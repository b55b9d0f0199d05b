"""Generate the stored PyTorch trajectories used by tests/test_optim.py.

    pip install torch==2.13.0
    python tests/reference/generate_optim.py

Writes tests/reference/optim_trajectories.npz (with the torch and numpy versions inside it):

- optimizers: every case below runs `STEPS` steps of a torch optimizer on a fixed linear least
  squares problem, in float64 and in float32. The gradient is computed in NumPy from the
  current parameters (`loss_grads`), identically here and in the test, so the test isolates
  the optimizer's update rule. Stored: the parameters after every step and, in float64, the
  final optimizer state_dict (state arrays and param_groups).
- schedulers: the lr of every parameter group after construction and after each of 30+
  epochs.
- clipping: clip_grad_norm_ (total norm and clipped grads) for several norms and max_norms,
  and clip_grad_value_.

The case lists, the problem and the gradient live here (torch is imported only by `main`), so
the test builds exactly the same cases and checks that the stored file is not stale.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "optim_trajectories.npz")
STEPS = 10

# Parameters of the problem, in optimizer order. "frozen" never gets a gradient: every case
# also checks that a parameter whose grad is None is skipped.
PARAM_NAMES = ("W", "b", "frozen")


def problem(dtype=np.float64):
    """A 16-sample, 5-feature, 3-output linear least squares problem with unequally scaled
    features (so that per-element step sizes matter), and the starting parameters.

    Returns (X (16, 5), Y (16, 3), {"W": (3, 5), "b": (3,), "frozen": (4,)})."""
    rng = np.random.default_rng(20240527)
    X = rng.standard_normal((16, 5)) * np.array([1.0, 3.0, 0.3, 1.0, 2.0])
    Y = rng.standard_normal((16, 3))
    params = {"W": 0.5 * rng.standard_normal((3, 5)), "b": 0.5 * rng.standard_normal(3),
              "frozen": rng.standard_normal(4)}
    return (X.astype(dtype), Y.astype(dtype),
            {k: v.astype(dtype) for k, v in params.items()})


def loss_grads(W, b, X, Y):
    """Gradients of L = 0.5 * mean_n ||X_n W^T + b - Y_n||^2:
    (3, 5), (3,) -> dL/dW (3, 5), dL/db (3,), in the dtype of the inputs."""
    R = X @ W.T + b - Y
    return R.T @ X / len(X), R.sum(axis=0) / len(X)


# name -> optimizer class name, constructor kwargs, optional parameter groups (lists of
# parameter names with their own options) and an optional scheduler stepped after every step.
OPTIMIZER_CASES = {
    "sgd": {"optimizer": "SGD", "kwargs": {"lr": 0.1}},
    "sgd_momentum": {"optimizer": "SGD", "kwargs": {"lr": 0.05, "momentum": 0.9}},
    "sgd_momentum_dampening": {"optimizer": "SGD",
                               "kwargs": {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}},
    "sgd_nesterov": {"optimizer": "SGD",
                     "kwargs": {"lr": 0.05, "momentum": 0.9, "nesterov": True}},
    "sgd_weight_decay": {"optimizer": "SGD",
                         "kwargs": {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}},
    "sgd_maximize": {"optimizer": "SGD",
                     "kwargs": {"lr": 0.02, "momentum": 0.9, "maximize": True}},
    "sgd_groups": {"optimizer": "SGD", "kwargs": {"lr": 0.05, "momentum": 0.9},
                   "groups": [{"params": ["W"], "lr": 0.01},
                              {"params": ["b", "frozen"], "lr": 0.2, "momentum": 0.5}]},
    "sgd_momentum_steplr": {"optimizer": "SGD", "kwargs": {"lr": 0.1, "momentum": 0.9},
                            "scheduler": ["StepLR", {"step_size": 3, "gamma": 0.5}]},
    "adam": {"optimizer": "Adam", "kwargs": {"lr": 0.05}},
    "adam_weight_decay": {"optimizer": "Adam", "kwargs": {"lr": 0.05, "weight_decay": 0.1}},
    "adam_amsgrad": {"optimizer": "Adam",
                     "kwargs": {"lr": 0.05, "betas": [0.8, 0.9], "amsgrad": True}},
    "adam_maximize": {"optimizer": "Adam", "kwargs": {"lr": 0.01, "maximize": True}},
    "adam_groups": {"optimizer": "Adam", "kwargs": {"lr": 0.05},
                    "groups": [{"params": ["W", "frozen"], "lr": 0.001},
                               {"params": ["b"], "betas": [0.5, 0.99], "eps": 1e-3}]},
    "adam_cosine": {"optimizer": "Adam", "kwargs": {"lr": 0.05},
                    "scheduler": ["CosineAnnealingLR", {"T_max": 4, "eta_min": 0.001}]},
    "adamw": {"optimizer": "AdamW", "kwargs": {"lr": 0.05}},
    "adamw_amsgrad": {"optimizer": "AdamW",
                      "kwargs": {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True,
                                 "betas": [0.8, 0.9]}},
    "adamw_maximize": {"optimizer": "AdamW", "kwargs": {"lr": 0.02, "maximize": True}},
    "rmsprop": {"optimizer": "RMSprop", "kwargs": {"lr": 0.01}},
    "rmsprop_centered": {"optimizer": "RMSprop", "kwargs": {"lr": 0.01, "centered": True}},
    "rmsprop_momentum": {"optimizer": "RMSprop", "kwargs": {"lr": 0.01, "momentum": 0.9}},
    "rmsprop_centered_momentum_wd": {"optimizer": "RMSprop",
                                     "kwargs": {"lr": 0.01, "alpha": 0.9, "centered": True,
                                                "momentum": 0.5, "weight_decay": 0.1}},
    "rmsprop_maximize": {"optimizer": "RMSprop", "kwargs": {"lr": 0.005, "maximize": True}},
    "adagrad": {"optimizer": "Adagrad", "kwargs": {"lr": 0.1}},
    "adagrad_lr_decay": {"optimizer": "Adagrad", "kwargs": {"lr": 0.1, "lr_decay": 0.05}},
    "adagrad_accumulator_wd": {"optimizer": "Adagrad",
                               "kwargs": {"lr": 0.1, "initial_accumulator_value": 0.5,
                                          "weight_decay": 0.1}},
    "adagrad_groups": {"optimizer": "Adagrad", "kwargs": {"lr": 0.1},
                       "groups": [{"params": ["W"]},
                                  {"params": ["b", "frozen"], "lr": 0.5, "eps": 1e-3}]},
    "adagrad_maximize": {"optimizer": "Adagrad", "kwargs": {"lr": 0.05, "maximize": True}},
    "adadelta": {"optimizer": "Adadelta", "kwargs": {}},
    "adadelta_rho_wd": {"optimizer": "Adadelta",
                        "kwargs": {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1, "eps": 1e-4}},
    "adadelta_maximize": {"optimizer": "Adadelta", "kwargs": {"lr": 2.0, "maximize": True}},
}

# lr_lambda functions for LambdaLR cases, by name (a function cannot be stored in the file)
LAMBDAS = {
    "warmup": lambda epoch: (epoch + 1) / 5 if epoch < 5 else 0.9 ** (epoch - 5),
    "inverse": lambda epoch: 1.0 / (1.0 + 0.5 * epoch),
}

# name -> schedulers stepped together (chained) on one SGD with two groups (lr 0.1, 0.02)
SCHEDULER_CASES = {
    "step": {"epochs": 30, "schedulers": [["StepLR", {"step_size": 7, "gamma": 0.5}]]},
    "multistep": {"epochs": 30, "schedulers": [
        ["MultiStepLR", {"milestones": [5, 12, 12, 20], "gamma": 0.3}]]},
    "exponential": {"epochs": 30, "schedulers": [["ExponentialLR", {"gamma": 0.9}]]},
    "cosine": {"epochs": 45, "schedulers": [
        ["CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001}]]},
    "cosine_odd_tmax": {"epochs": 30, "schedulers": [["CosineAnnealingLR", {"T_max": 7}]]},
    "lambda_warmup": {"epochs": 30, "schedulers": [["LambdaLR", {"lr_lambda": "warmup"}]]},
    "lambda_per_group": {"epochs": 30, "schedulers": [
        ["LambdaLR", {"lr_lambda": ["warmup", "inverse"]}]]},
    "chained_exponential_multistep": {"epochs": 30, "schedulers": [
        ["ExponentialLR", {"gamma": 0.95}],
        ["MultiStepLR", {"milestones": [10, 20], "gamma": 0.5}]]},
    "chained_cosine_step": {"epochs": 30, "schedulers": [
        ["CosineAnnealingLR", {"T_max": 12, "eta_min": 0.0}],
        ["StepLR", {"step_size": 10, "gamma": 0.1}]]},
}
SCHEDULER_GROUP_LRS = (0.1, 0.02)

# name -> (max_norm, norm_type) for clip_grad_norm_
CLIP_NORM_CASES = {
    "l2_clips": (1.0, 2.0),
    "l2_no_clip": (100.0, 2.0),
    "l1": (0.5, 1.0),
    "l3": (2.0, 3.0),
    "inf": (0.5, float("inf")),
    "inf_no_clip": (10.0, float("inf")),
}
CLIP_VALUE = 0.3


def clip_grads(dtype=np.float64):
    """Three gradients of different shapes and scales: (3, 5), (3,), (2, 2, 2)."""
    rng = np.random.default_rng(99)
    return [(rng.standard_normal(shape) * scale).astype(dtype)
            for shape, scale in (((3, 5), 1.0), ((3,), 4.0), ((2, 2, 2), 0.2))]


def scheduler_kwargs(kwargs):
    """Constructor kwargs with lambda names replaced by the functions."""
    kwargs = dict(kwargs)
    if "lr_lambda" in kwargs:
        names = kwargs["lr_lambda"]
        kwargs["lr_lambda"] = ([LAMBDAS[n] for n in names] if isinstance(names, list)
                               else LAMBDAS[names])
    return kwargs


def config_json(kind, name):
    cases = {"optim": OPTIMIZER_CASES, "sched": SCHEDULER_CASES}[kind]
    return json.dumps(cases[name], sort_keys=True)


def clip_config_json():
    return json.dumps({"norm": CLIP_NORM_CASES, "value": CLIP_VALUE}, sort_keys=True)


def _torch_trajectory(torch, case, dtype):
    X, Y, start = problem(dtype)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in start.items()}
    kwargs = dict(case["kwargs"])
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    if "groups" in case:
        groups = []
        for g in case["groups"]:
            g = dict(g)
            g["params"] = [params[n] for n in g["params"]]
            if "betas" in g:
                g["betas"] = tuple(g["betas"])
            groups.append(g)
    else:
        groups = [params[n] for n in PARAM_NAMES]
    opt = getattr(torch.optim, case["optimizer"])(groups, foreach=False, **kwargs)
    sched = None
    if "scheduler" in case:
        cls, skw = case["scheduler"]
        sched = getattr(torch.optim.lr_scheduler, cls)(opt, **scheduler_kwargs(skw))
    traj = {n: [start[n].copy()] for n in ("W", "b")}
    for _ in range(STEPS):
        gW, gb = loss_grads(params["W"].detach().numpy(), params["b"].detach().numpy(), X, Y)
        params["W"].grad = torch.from_numpy(gW.copy())
        params["b"].grad = torch.from_numpy(gb.copy())
        opt.step()
        if sched is not None:
            sched.step()
        for n in traj:
            traj[n].append(params[n].detach().numpy().copy())
    assert np.array_equal(params["frozen"].detach().numpy(), start["frozen"])
    return {n: np.stack(v) for n, v in traj.items()}, opt.state_dict()


def _plain_group(group):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items()
            if isinstance(v, (bool, int, float, str, list, tuple))}


def main():
    import torch

    store = {"torch_version": np.array(torch.__version__),
             "numpy_version": np.array(np.__version__),
             "clip|config": np.array(clip_config_json())}

    for name, case in OPTIMIZER_CASES.items():
        store[f"optim|{name}|config"] = np.array(config_json("optim", name))
        for dtype, tag in ((np.float64, "f64"), (np.float32, "f32")):
            traj, sd = _torch_trajectory(torch, case, dtype)
            for n, arr in traj.items():
                store[f"optim|{name}|{tag}|{n}"] = arr
            if tag == "f64":
                for index, state in sd["state"].items():
                    for key, value in state.items():
                        store[f"optim|{name}|state|{index}|{key}"] = np.asarray(
                            value.detach().numpy() if torch.is_tensor(value) else value)
                store[f"optim|{name}|param_groups"] = np.array(json.dumps(
                    [_plain_group(g) for g in sd["param_groups"]], sort_keys=True))

    for name, case in SCHEDULER_CASES.items():
        store[f"sched|{name}|config"] = np.array(config_json("sched", name))
        params = [torch.zeros(2, requires_grad=True) for _ in SCHEDULER_GROUP_LRS]
        opt = torch.optim.SGD([{"params": [p], "lr": lr}
                               for p, lr in zip(params, SCHEDULER_GROUP_LRS)])
        scheds = [getattr(torch.optim.lr_scheduler, cls)(opt, **scheduler_kwargs(kw))
                  for cls, kw in case["schedulers"]]
        lrs = [scheds[-1].get_last_lr()]
        for _ in range(case["epochs"]):
            opt.step()
            for s in scheds:
                s.step()
            lrs.append(scheds[-1].get_last_lr())
        store[f"sched|{name}|lrs"] = np.array(lrs, dtype=np.float64)

    for dtype, tag in ((np.float64, "f64"), (np.float32, "f32")):
        grads = clip_grads(dtype)
        for name, (max_norm, norm_type) in CLIP_NORM_CASES.items():
            ps = [torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True)
                  for g in grads]
            for p, g in zip(ps, grads):
                p.grad = torch.from_numpy(g.copy())
            total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type, foreach=False)
            store[f"clip|{name}|{tag}|total"] = total.detach().numpy()
            for i, p in enumerate(ps):
                store[f"clip|{name}|{tag}|grad{i}"] = p.grad.numpy()
        ps = [torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True)
              for g in grads]
        for p, g in zip(ps, grads):
            p.grad = torch.from_numpy(g.copy())
        torch.nn.utils.clip_grad_value_(ps, CLIP_VALUE, foreach=False)
        for i, p in enumerate(ps):
            store[f"clipvalue|{tag}|grad{i}"] = p.grad.numpy()

    np.savez_compressed(OUT, **store)
    print(f"{os.path.basename(OUT)}: {len(OPTIMIZER_CASES)} optimizer cases x 2 dtypes, "
          f"{len(SCHEDULER_CASES)} scheduler cases, {len(CLIP_NORM_CASES)} clip cases, "
          f"torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
