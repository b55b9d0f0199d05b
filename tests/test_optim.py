"""Optimizers, schedulers and gradient clipping against stored PyTorch trajectories
(tests/reference/optim_trajectories.npz, made by tests/reference/generate_optim.py).

The optimizer cases run a fixed least squares problem whose gradient is computed in NumPy on
both sides, so a mismatch can only come from the update rule. No torch needed, except in the
last test, which compares random hyper-parameters live when torch is installed."""
import json
import os
import warnings

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import optim
from scratchnet.nn.parameter import Parameter
from scratchnet.nn.utils import clip_grad_norm_, clip_grad_value_
from scratchnet.optim import lr_scheduler
from tests.reference.generate_optim import (CLIP_NORM_CASES, CLIP_VALUE, OPTIMIZER_CASES,
                                            PARAM_NAMES, SCHEDULER_CASES, SCHEDULER_GROUP_LRS,
                                            STEPS, clip_config_json, clip_grads, config_json,
                                            loss_grads, problem, scheduler_kwargs)

REF = dict(np.load(os.path.join(os.path.dirname(__file__), "reference",
                                "optim_trajectories.npz")))
OPT_NAMES = sorted(OPTIMIZER_CASES)
SCHED_NAMES = sorted(SCHEDULER_CASES)


def build(case, params):
    """Our optimizer (and scheduler) for a case, over a dict of Parameters."""
    kwargs = dict(case["kwargs"])
    if "groups" in case:
        groups = [dict(g, params=[params[n] for n in g["params"]]) for g in case["groups"]]
    else:
        groups = [params[n] for n in PARAM_NAMES]
    opt = getattr(optim, case["optimizer"])(groups, **kwargs)
    sched = None
    if "scheduler" in case:
        cls, skw = case["scheduler"]
        sched = getattr(lr_scheduler, cls)(opt, **scheduler_kwargs(skw))
    return opt, sched


def advance(opt, sched, params, X, Y, steps):
    """`steps` optimizer steps with the NumPy gradient; W and b after each step."""
    out = {"W": [], "b": []}
    for _ in range(steps):
        gW, gb = loss_grads(params["W"].data, params["b"].data, X, Y)
        params["W"].grad = sn.tensor(gW)
        params["b"].grad = sn.tensor(gb)
        opt.step()
        if sched is not None:
            sched.step()
        for n in out:
            out[n].append(params[n].data.copy())
    return {n: np.stack(v) for n, v in out.items()}


def start_params(dtype, at=None, name=None):
    X, Y, start = problem(dtype)
    if at is not None:
        for n in ("W", "b"):
            start[n] = REF[f"optim|{name}|f64|{n}"][at].astype(dtype)
    return X, Y, {n: Parameter(v.copy()) for n, v in start.items()}


@pytest.mark.parametrize("name", OPT_NAMES)
def test_reference_is_current(name):
    stored = str(REF[f"optim|{name}|config"])
    assert stored == config_json("optim", name), \
        f"{name}: stored reference is stale; run python tests/reference/generate_optim.py"


@pytest.mark.parametrize("name", OPT_NAMES)
def test_trajectory_float64_matches_pytorch(name):
    X, Y, params = start_params(np.float64)
    frozen = params["frozen"].data.copy()
    opt, sched = build(OPTIMIZER_CASES[name], params)
    ours = advance(opt, sched, params, X, Y, STEPS)
    for n in ("W", "b"):
        ref = REF[f"optim|{name}|f64|{n}"]
        assert not np.allclose(ref[-1], ref[0]), f"{name}: the reference never moved {n}"
        for t in range(STEPS):
            np.testing.assert_allclose(ours[n][t], ref[t + 1], rtol=1e-11, atol=1e-13,
                                       err_msg=f"{name}: {n} after step {t + 1}")
    np.testing.assert_array_equal(params["frozen"].data, frozen,
                                  err_msg=f"{name}: a parameter with grad None moved")


@pytest.mark.parametrize("name", OPT_NAMES)
def test_trajectory_float32_stays_float32(name):
    X, Y, params = start_params(np.float32)
    opt, sched = build(OPTIMIZER_CASES[name], params)
    ours = advance(opt, sched, params, X, Y, STEPS)
    for n in ("W", "b"):
        assert params[n].data.dtype == np.float32, f"{name}: {n} became {params[n].dtype}"
        ref = REF[f"optim|{name}|f32|{n}"]
        assert ref.dtype == np.float32
        np.testing.assert_allclose(ours[n], ref[1:], rtol=2e-5, atol=2e-6,
                                   err_msg=f"{name}: float32 {n}")
    for i, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32, f"{name}: state {i} {key} is {value.dtype}"


@pytest.mark.parametrize("name", OPT_NAMES)
def test_state_dict_matches_pytorch(name):
    X, Y, params = start_params(np.float64)
    opt, sched = build(OPTIMIZER_CASES[name], params)
    advance(opt, sched, params, X, Y, STEPS)
    sd = opt.state_dict()
    prefix = f"optim|{name}|state|"
    ref_state = {}
    for key in REF:
        if key.startswith(prefix):
            index, field = key[len(prefix):].split("|")
            ref_state.setdefault(int(index), {})[field] = REF[key]
    assert sorted(sd["state"]) == sorted(ref_state), f"{name}: parameters with state"
    for index, fields in ref_state.items():
        assert sorted(sd["state"][index]) == sorted(fields), f"{name}: state {index} keys"
        for field, ref in fields.items():
            np.testing.assert_allclose(np.asarray(sd["state"][index][field], np.float64), ref,
                                       rtol=1e-10, atol=1e-13,
                                       err_msg=f"{name}: state {index} {field}")
    ref_groups = json.loads(str(REF[f"optim|{name}|param_groups"]))
    assert len(sd["param_groups"]) == len(ref_groups)
    for ours, ref in zip(sd["param_groups"], ref_groups):
        for key, value in ours.items():
            assert key in ref, f"{name}: group option {key!r} is not one of torch's"
            want = ref[key]
            got = list(value) if isinstance(value, tuple) else value
            if isinstance(want, float):
                assert got == pytest.approx(want, rel=1e-12), f"{name}: group {key}"
            else:
                assert got == want, f"{name}: group {key}"


@pytest.mark.parametrize("name", OPT_NAMES)
def test_state_dict_resumes_training(name):
    """Save after 4 steps, restore into fresh objects, finish: the trajectory of torch's
    uninterrupted run."""
    case = OPTIMIZER_CASES[name]
    X, Y, params = start_params(np.float64)
    opt, sched = build(case, params)
    advance(opt, sched, params, X, Y, 4)
    saved = opt.state_dict()
    saved_sched = sched.state_dict() if sched is not None else None
    # the saved copy must not follow the live optimizer
    advance(opt, sched, params, X, Y, 1)

    X, Y, fresh = start_params(np.float64, at=4, name=name)
    opt2, sched2 = build(case, fresh)
    opt2.load_state_dict(saved)
    if sched2 is not None:
        sched2.load_state_dict(saved_sched)
    ours = advance(opt2, sched2, fresh, X, Y, STEPS - 4)
    for n in ("W", "b"):
        np.testing.assert_allclose(ours[n], REF[f"optim|{name}|f64|{n}"][5:], rtol=1e-11,
                                   atol=1e-13, err_msg=f"{name}: resumed {n}")


def test_load_state_dict_casts_to_parameter_dtype():
    p64 = Parameter(np.ones(3))
    p64.grad = sn.tensor(np.full(3, 0.5))
    opt = optim.Adam([p64], lr=0.1)
    opt.step()
    p32 = Parameter(np.ones(3, np.float32))
    opt32 = optim.Adam([p32], lr=0.1)
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[p32]["exp_avg"].dtype == np.float32
    assert opt32.state[p32]["step"] == 1


def test_load_state_dict_rejects_a_different_layout():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
    saved = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="group 0 has 1 parameters, the saved group has 2"):
        optim.SGD([a], lr=0.1).load_state_dict(saved)


# -- schedulers --------------------------------------------------------------------------------

def build_schedulers(case):
    params = [Parameter(np.zeros(2)) for _ in SCHEDULER_GROUP_LRS]
    opt = optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, SCHEDULER_GROUP_LRS)])
    scheds = [getattr(lr_scheduler, cls)(opt, **scheduler_kwargs(kw))
              for cls, kw in case["schedulers"]]
    return opt, scheds


def run_epochs(opt, scheds, epochs):
    lrs = []
    for _ in range(epochs):
        opt.step()
        for s in scheds:
            s.step()
        lrs.append(scheds[-1].get_last_lr())
        assert lrs[-1] == [g["lr"] for g in opt.param_groups]
    return lrs


@pytest.mark.parametrize("name", SCHED_NAMES)
def test_scheduler_matches_pytorch(name):
    case = SCHEDULER_CASES[name]
    assert str(REF[f"sched|{name}|config"]) == config_json("sched", name), \
        f"{name}: stored reference is stale; run python tests/reference/generate_optim.py"
    opt, scheds = build_schedulers(case)
    lrs = [scheds[-1].get_last_lr()] + run_epochs(opt, scheds, case["epochs"])
    ref = REF[f"sched|{name}|lrs"]
    assert ref.shape == (case["epochs"] + 1, len(SCHEDULER_GROUP_LRS))
    assert len(np.unique(ref[:, 0])) > 2, f"{name}: the reference lr hardly changes"
    np.testing.assert_allclose(np.array(lrs), ref, rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("name", SCHED_NAMES)
def test_scheduler_state_dict_resumes(name):
    case = SCHEDULER_CASES[name]
    opt, scheds = build_schedulers(case)
    run_epochs(opt, scheds, 12)
    saved_opt = opt.state_dict()
    saved = [s.state_dict() for s in scheds]
    assert all("optimizer" not in s for s in saved)

    opt2, scheds2 = build_schedulers(case)
    opt2.load_state_dict(saved_opt)
    for s, state in zip(scheds2, saved):
        s.load_state_dict(state)
    lrs = run_epochs(opt2, scheds2, case["epochs"] - 12)
    np.testing.assert_allclose(np.array(lrs), REF[f"sched|{name}|lrs"][13:], rtol=1e-12,
                               atol=1e-15, err_msg=name)


def test_cosine_annealing_reaches_its_closed_form():
    """The recursive form stays on eta_min + (base - eta_min)(1 + cos(pi t / T)) / 2, the
    formula of the SGDR paper, for two full periods."""
    p = Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=0.5)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.05)
    for t in range(1, 25):
        opt.step()
        sched.step()
        closed = 0.05 + (0.5 - 0.05) * (1 + np.cos(np.pi * t / 6)) / 2
        assert sched.get_last_lr()[0] == pytest.approx(closed, rel=1e-12, abs=1e-15), t


def test_lambda_lr_saves_callable_objects_not_functions():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, epoch):
            return self.rate ** epoch

    p = Parameter(np.zeros(1))
    opt = optim.SGD([{"params": [p]}, {"params": [Parameter(np.zeros(1))]}], lr=1.0)
    decay = Decay()
    sched = lr_scheduler.LambdaLR(opt, [decay, lambda e: 1.0])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.5}, None]
    decay.rate = 0.1
    sched.load_state_dict(state)
    assert decay.rate == 0.5


def test_scheduler_stepped_before_optimizer_warns():
    p = Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=0.1)
    sched = lr_scheduler.StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match="before optimizer.step"):
        sched.step()
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_scheduler_errors():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(TypeError, match="expected an Optimizer"):
        lr_scheduler.StepLR([Parameter(np.zeros(1))], step_size=2)
    with pytest.raises(ValueError, match="step_size must be a positive"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max must be a positive"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="expected 1 lr_lambdas"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0, lambda e: 1.0])
    with pytest.raises(TypeError, match="must be callable"):
        lr_scheduler.LambdaLR(opt, 0.5)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.ExponentialLR(opt, gamma=0.9, last_epoch=3)


# -- gradient clipping -------------------------------------------------------------------------

def params_with_grads(grads):
    ps = []
    for g in grads:
        p = Parameter(np.zeros(g.shape, g.dtype))
        p.grad = sn.tensor(g.copy())
        ps.append(p)
    return ps


def test_clip_reference_is_current():
    assert str(REF["clip|config"]) == clip_config_json()


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", sorted(CLIP_NORM_CASES))
def test_clip_grad_norm_matches_pytorch(name, dtype):
    tag = "f64" if dtype == np.float64 else "f32"
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    max_norm, norm_type = CLIP_NORM_CASES[name]
    grads = clip_grads(dtype)
    ps = params_with_grads(grads)
    skipped = Parameter(np.ones(2, dtype))
    total = clip_grad_norm_(ps + [skipped], max_norm, norm_type)
    assert isinstance(total, sn.Tensor) and total.shape == () and total.dtype == dtype
    np.testing.assert_allclose(total.data, REF[f"clip|{name}|{tag}|total"], rtol=rtol)
    for i, p in enumerate(ps):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad.data, REF[f"clip|{name}|{tag}|grad{i}"], rtol=rtol,
                                   atol=rtol * 1e-2, err_msg=f"{name} grad {i}")
    assert skipped.grad is None


def test_clip_grad_norm_bounds_the_norm_and_keeps_direction():
    grads = clip_grads(np.float64)
    ps = params_with_grads(grads)
    total = clip_grad_norm_(ps, max_norm=0.25)
    flat = np.concatenate([g.ravel() for g in grads])
    assert float(total) == pytest.approx(np.sqrt(np.sum(flat ** 2)), rel=1e-12)
    clipped = np.concatenate([p.grad.data.ravel() for p in ps])
    assert np.sqrt(np.sum(clipped ** 2)) == pytest.approx(0.25, rel=1e-5)
    np.testing.assert_allclose(clipped / np.linalg.norm(clipped), flat / np.linalg.norm(flat))


def test_clip_grad_norm_edge_cases():
    p = Parameter(np.ones(3, np.float32))
    assert float(clip_grad_norm_([p], 1.0)) == 0.0      # no grads at all
    p.grad = sn.tensor(np.array([3.0, 4.0, 0.0], np.float32))
    assert float(clip_grad_norm_(p, 1.0)) == pytest.approx(5.0)   # a single Tensor
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8, 0.0], rtol=1e-5)
    p.grad = sn.tensor(np.array([np.inf, 1.0, 0.0], np.float32))
    with pytest.raises(RuntimeError, match="total norm"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        clip_grad_norm_([p], 1.0, norm_type=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_clip_grad_value_matches_pytorch(dtype):
    tag = "f64" if dtype == np.float64 else "f32"
    ps = params_with_grads(clip_grads(dtype))
    frozen = Parameter(np.ones(2, dtype))
    assert clip_grad_value_(ps + [frozen], CLIP_VALUE) is None
    for i, p in enumerate(ps):
        assert p.grad.dtype == dtype
        np.testing.assert_array_equal(p.grad.data, REF[f"clipvalue|{tag}|grad{i}"])
    assert frozen.grad is None
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value_(ps, -1.0)


# -- the Optimizer base: groups, errors, zero_grad, closure ---------------------------------

def test_param_group_options_fall_back_to_defaults():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    opt = optim.SGD([{"params": [a], "lr": 0.5}, {"params": b, "momentum": 0.9}], lr=0.1,
                    weight_decay=1e-4)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0, 0.9]
    assert all(g["weight_decay"] == 1e-4 for g in opt.param_groups)
    assert len(opt.param_groups[1]["params"]) == 1 and opt.param_groups[1]["params"][0] is b


def test_add_param_group_unfreezes_a_layer():
    """Fine-tuning: train the head first, then add the backbone with a smaller lr."""
    head, backbone = Parameter(np.ones(3)), Parameter(np.ones(3))
    opt = optim.SGD([head], lr=0.5)
    g = np.array([1.0, -2.0, 0.5])
    head.grad, backbone.grad = sn.tensor(g), sn.tensor(g)
    opt.step()
    np.testing.assert_array_equal(backbone.data, np.ones(3))
    opt.add_param_group({"params": [backbone], "lr": 0.01})
    opt.step()
    np.testing.assert_allclose(head.data, 1 - 2 * 0.5 * g)
    np.testing.assert_allclose(backbone.data, 1 - 0.01 * g)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [head]})


def test_zero_grad():
    p = Parameter(np.ones(3))
    p.grad = sn.tensor(np.ones(3))
    opt = optim.SGD([p], lr=0.1)
    grad_array = p.grad.data
    opt.zero_grad(set_to_none=False)
    assert p.grad.data is grad_array and not grad_array.any()
    opt.zero_grad()
    assert p.grad is None
    opt.step()                              # nothing to do: no grads
    np.testing.assert_array_equal(p.data, np.ones(3))


def test_step_with_closure_returns_loss_and_records_grad():
    w = Parameter(np.array([2.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with sn.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 4.0
    np.testing.assert_allclose(w.data, [2.0 - 0.25 * 4.0])


def test_updates_in_place_outside_the_graph():
    data = np.ones(3, np.float32)
    p = Parameter(data)
    p.grad = sn.tensor(np.ones(3, np.float32))
    optim.Adam([p], lr=0.1).step()
    assert p.data is data and p.is_leaf and p.grad_fn is None
    assert not np.allclose(data, 1.0)


def test_numpy_scalar_hyperparameters_keep_float32():
    p = Parameter(np.ones(4, np.float32))
    p.grad = sn.tensor(np.full(4, 0.5, np.float32))
    opt = optim.RMSprop([p], lr=np.float64(0.01), momentum=np.float64(0.9), centered=True)
    opt.step()
    assert p.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if hasattr(v, "dtype"))


BAD_HYPERPARAMETERS = [
    (optim.SGD, {"lr": -0.1}, "invalid learning rate: -0.1"),
    (optim.SGD, {"momentum": -0.5}, "invalid momentum value"),
    (optim.SGD, {"weight_decay": -1e-4}, "invalid weight_decay value"),
    (optim.SGD, {"nesterov": True}, "Nesterov momentum requires a momentum"),
    (optim.SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
     "zero dampening"),
    (optim.Adam, {"lr": -1.0}, "invalid learning rate"),
    (optim.Adam, {"betas": (1.0, 0.999)}, "beta parameter at index 0: 1.0"),
    (optim.Adam, {"betas": (0.9, -0.1)}, "beta parameter at index 1: -0.1"),
    (optim.Adam, {"eps": -1e-8}, "invalid epsilon value"),
    (optim.AdamW, {"weight_decay": -0.01}, "invalid weight_decay value"),
    (optim.AdamW, {"betas": (0.9, 1.5)}, "beta parameter at index 1"),
    (optim.RMSprop, {"alpha": -0.9}, "invalid alpha value"),
    (optim.RMSprop, {"momentum": -0.1}, "invalid momentum value"),
    (optim.Adagrad, {"lr_decay": -0.1}, "invalid lr_decay value"),
    (optim.Adagrad, {"initial_accumulator_value": -1}, "initial_accumulator_value"),
    (optim.Adadelta, {"rho": 1.5}, "invalid rho value: 1.5"),
    (optim.Adadelta, {"eps": -1.0}, "invalid epsilon value"),
]


@pytest.mark.parametrize("cls,kwargs,message", BAD_HYPERPARAMETERS,
                         ids=[f"{c.__name__}-{'-'.join(k)}" for c, k, _ in BAD_HYPERPARAMETERS])
def test_invalid_hyperparameters_raise(cls, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        cls([Parameter(np.zeros(2))], **kwargs)
    assert cls.__name__ in str(info.value)


def test_invalid_hyperparameter_in_a_group_raises():
    with pytest.raises(ValueError, match="SGD: invalid learning rate: -1"):
        optim.SGD([{"params": [Parameter(np.zeros(2))], "lr": -1}], lr=0.1)


def test_bad_params_raise():
    p = Parameter(np.zeros(2))
    with pytest.raises(TypeError, match="got a single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD([{"params": {p}}])
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.zeros(2)])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2.0])
    with pytest.raises(ValueError, match="same parameter twice"):
        optim.SGD([p, p])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}])


def test_grad_of_the_wrong_shape_or_dtype_raises():
    p = Parameter(np.zeros(3, np.float32))
    opt = optim.SGD([Parameter(np.zeros(1)), p], lr=0.1)
    p.grad = sn.tensor(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(3,\) but its grad has "
                                         r"shape \(4,\)"):
        opt.step()
    p.grad = sn.tensor(np.zeros(3, np.float64))
    with pytest.raises(TypeError, match="parameter 1 is float32 but its grad is float64"):
        opt.step()


def test_repr_lists_each_group():
    opt = optim.SGD([{"params": [Parameter(np.zeros(1))], "lr": 0.5}], lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "lr: 0.5" in text


# -- end to end, with scratchnet's autograd ----------------------------------------------------

def regression_data(dtype):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((64, 3)).astype(dtype)
    true_W = np.array([[1.5, -2.0, 0.5]])
    y = (X @ true_W.T + 0.7 + 0.01 * rng.standard_normal((64, 1))).astype(dtype)
    # the least squares answer, solved directly
    sol = np.linalg.lstsq(np.hstack([X, np.ones((64, 1))]).astype(np.float64),
                          y.astype(np.float64), rcond=None)[0].ravel()
    return X, y, sol


@pytest.mark.parametrize("make_opt,steps", [
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), 150),
    (lambda ps: optim.Adam(ps, lr=0.05), 400),
    (lambda ps: optim.RMSprop(ps, lr=0.01, centered=True), 600),
], ids=["sgd_momentum", "adam", "rmsprop_centered"])
def test_linear_regression_converges(make_opt, steps):
    X, y, sol = regression_data(np.float32)
    W = Parameter(np.zeros((1, 3), np.float32))
    b = Parameter(np.zeros(1, np.float32))
    opt = make_opt([W, b])
    x_t, y_t = sn.tensor(X), sn.tensor(y)
    first = None
    for _ in range(steps):
        opt.zero_grad()
        loss = ((x_t @ W.T + b - y_t) ** 2).mean()
        loss.backward()
        opt.step()
        first = float(loss) if first is None else first
    assert W.dtype == np.float32 and b.dtype == np.float32
    assert float(loss) < 1e-3 * first
    np.testing.assert_allclose(np.append(W.data.ravel(), b.data), sol, atol=5e-3)


def test_adadelta_needs_no_learning_rate_tuning():
    """Adadelta with its default lr=1.0 (the ConvNetJS demo's optimizer) fits the regression
    far below where it started. It does not settle exactly: near the minimum its step
    sqrt(u + eps) / sqrt(v + eps) * g does not shrink much below sqrt(eps) = 1e-3 while
    |g| >> sqrt(eps), so the parameters hover around the solution."""
    X, y, sol = regression_data(np.float32)
    W = Parameter(np.zeros((1, 3), np.float32))
    b = Parameter(np.zeros(1, np.float32))
    opt = optim.Adadelta([W, b])
    x_t, y_t = sn.tensor(X), sn.tensor(y)
    losses = []
    for _ in range(1000):
        opt.zero_grad()
        loss = ((x_t @ W.T + b - y_t) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert max(losses[-100:]) < 1e-3 * losses[0]
    np.testing.assert_allclose(np.append(W.data.ravel(), b.data), sol, atol=2e-2)


def test_frozen_backbone_with_a_trained_head():
    """Deck 002's transfer-learning row "small data, similar task": keep the pretrained
    layer, train only the classifier on top. The frozen layer gets no grad and never moves,
    even when it is handed to the optimizer."""
    rng = np.random.default_rng(3)
    X = sn.tensor(rng.standard_normal((32, 4)).astype(np.float32))
    y = sn.tensor(rng.standard_normal((32, 2)).astype(np.float32))
    backbone = Parameter(rng.standard_normal((4, 4)).astype(np.float32), requires_grad=False)
    head = Parameter(np.zeros((4, 2), np.float32))
    before = backbone.data.copy()
    opt = optim.Adam([{"params": [backbone], "lr": 1e-3}, {"params": [head], "lr": 1e-2}])
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = (((X @ backbone).relu() @ head - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert backbone.grad is None and backbone not in opt.state
    np.testing.assert_array_equal(backbone.data, before)
    assert losses[-1] < losses[0]


def test_live_against_pytorch_with_random_hyperparameters():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    specs = [
        ("SGD", lambda: dict(lr=rng.uniform(0.01, 0.2), momentum=rng.uniform(0, 0.95),
                             dampening=rng.uniform(0, 0.5), weight_decay=rng.uniform(0, 0.1))),
        ("Adam", lambda: dict(lr=rng.uniform(0.001, 0.1), betas=(rng.uniform(0.5, 0.95),
                              rng.uniform(0.9, 0.999)), weight_decay=rng.uniform(0, 0.1),
                              amsgrad=bool(rng.integers(2)))),
        ("AdamW", lambda: dict(lr=rng.uniform(0.001, 0.1), weight_decay=rng.uniform(0, 0.5))),
        ("RMSprop", lambda: dict(lr=rng.uniform(0.001, 0.02), alpha=rng.uniform(0.8, 0.99),
                                 momentum=rng.uniform(0, 0.9), centered=bool(rng.integers(2)))),
        ("Adagrad", lambda: dict(lr=rng.uniform(0.01, 0.5), lr_decay=rng.uniform(0, 0.1))),
        ("Adadelta", lambda: dict(lr=rng.uniform(0.1, 2.0), rho=rng.uniform(0.5, 0.95))),
    ]
    for name, draw in specs:
        for _ in range(3):
            kwargs = draw()
            start = rng.standard_normal((4, 3))
            targets = rng.standard_normal((6, 4, 3))
            p = Parameter(start.copy())
            tp = torch.tensor(start.copy(), requires_grad=True)
            ours = getattr(optim, name)([p], **kwargs)
            theirs = getattr(torch.optim, name)([tp], **kwargs)
            for target in targets:
                # gradient of 0.5 * ||p - target||^3 / 3 style: nonlinear in p
                p.grad = sn.tensor((p.data - target) * np.abs(p.data - target))
                g = tp.detach().numpy()
                tp.grad = torch.from_numpy((g - target) * np.abs(g - target))
                ours.step()
                theirs.step()
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{name} {kwargs}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [
    dict(momentum=0.9),
    dict(momentum=0.8, dampening=0.3, weight_decay=1e-2),
    dict(momentum=0.9, nesterov=True, weight_decay=5e-4),
    dict(momentum=0.7, maximize=True, weight_decay=0.1),
])
def test_sgd_momentum_matches_its_formula_bit_for_bit(dtype, options):
    # from the second step on, the update runs as one fused kernel; every operation must
    # round as the NumPy formula of the docstring does (scalars in the arrays' dtype)
    rng = np.random.default_rng(31)
    start = rng.standard_normal((3, 4, 5)).astype(dtype)
    grads = [rng.standard_normal(start.shape).astype(dtype) for _ in range(4)]
    p = Parameter(start.copy())
    opt = optim.SGD([p], lr=0.05, **options)
    m, wd = options["momentum"], options.get("weight_decay", 0)
    keep = 1 - options.get("dampening", 0)
    x, buf = start.copy(), None
    for g in grads:
        p.grad = sn.tensor(g.copy())
        opt.step()
        d = -g if options.get("maximize") else g
        if wd:
            d = d + wd * x
        if buf is None:
            buf = d.copy()
        else:
            buf *= m
            buf += keep * d
        x -= 0.05 * (d + m * buf if options.get("nesterov") else buf)
    assert p.data.dtype == dtype
    np.testing.assert_array_equal(p.data, x)
    np.testing.assert_array_equal(opt.state[p]["momentum_buffer"], buf)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.1}, {"amsgrad": True},
                                     {"weight_decay": 0.05, "decoupled_weight_decay": True},
                                     {"maximize": True, "amsgrad": True, "weight_decay": 0.1}])
def test_adam_one_pass_kernel_gives_the_numpy_steps_bits(dtype, options):
    # the kernel runs for C-contiguous arrays; a Fortran-order gradient takes the NumPy path
    rng = np.random.default_rng(0)
    start = rng.standard_normal((6, 5)).astype(dtype)
    grads = [rng.standard_normal((6, 5)).astype(dtype) for _ in range(4)]
    group = {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
             "amsgrad": False, "maximize": False, "decoupled_weight_decay": False, **options}
    opt = optim.Adam([sn.nn.Parameter(start.copy())], **options)
    fused, plain = start.copy(), start.copy()
    fused_state, plain_state = {}, {}
    for g in grads:
        opt.update(fused, g.copy(), fused_state, group)
        opt.update(plain, np.asfortranarray(g), plain_state, group)
    np.testing.assert_array_equal(fused, plain)
    for key in ("exp_avg", "exp_avg_sq"):
        np.testing.assert_array_equal(fused_state[key], plain_state[key])
    assert fused.dtype == dtype and fused_state["exp_avg"].dtype == dtype
    assert not np.array_equal(fused, start)
