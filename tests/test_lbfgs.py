"""optim.LBFGS against torch.optim.LBFGS: stored iterates (tests/reference/lbfgs_trajectories.npz,
made by tests/reference/generate_lbfgs.py) and, when torch is installed, the same cases live.

The loss and gradient are computed in NumPy on both sides (a six-dimensional Rosenbrock and a
badly scaled least-squares problem), so a difference can only come from L-BFGS: the two-loop
recursion, the first step's 1/||g||_1 scaling, the history window, the strong Wolfe line search
and the stopping rules (which the func_evals and n_iter counters pin down)."""
import os

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import optim
from scratchnet.nn.parameter import Parameter
from scratchnet.optim.lbfgs import cubic_minimizer, strong_wolfe
from tests.reference.generate_lbfgs import CASES, config_json, final_state, run

REF = dict(np.load(os.path.join(os.path.dirname(__file__), "reference",
                                "lbfgs_trajectories.npz")))
NAMES = sorted(CASES)


def ours(name):
    def set_grad(p, g):
        p.grad = sn.tensor(g)

    return run(optim.LBFGS, Parameter, set_grad, lambda p: p.data.copy(), name)


@pytest.mark.parametrize("name", NAMES)
def test_reference_is_current(name):
    assert str(REF[f"{name}|config"]) == config_json(name), \
        f"{name}: stored reference is stale; run python tests/reference/generate_lbfgs.py"


@pytest.mark.parametrize("name", NAMES)
def test_iterates_match_stored_pytorch(name):
    result, opt = ours(name)
    # the counters first: a different number of closure calls means a different algorithm
    np.testing.assert_array_equal(result["func_evals"], REF[f"{name}|func_evals"])
    np.testing.assert_array_equal(result["n_iter"], REF[f"{name}|n_iter"])
    # the first step(), up to 12 iterations, agrees to rounding; later steps carry the
    # rounding of dot products summed in another order (BLAS vs torch), which Rosenbrock's
    # curvature amplifies: measured 2e-16 after the first step, 7e-11 after 36 iterations
    np.testing.assert_allclose(result["x"][1], REF[f"{name}|x"][1], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(result["x"], REF[f"{name}|x"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result["loss"], REF[f"{name}|loss"], rtol=1e-9, atol=1e-12)
    state = final_state(opt, opt.param_groups[0]["params"][0], lambda v: v)
    assert state["history"] == REF[f"{name}|state|history"]
    np.testing.assert_allclose(state["d"], REF[f"{name}|state|d"], rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(state["t"], REF[f"{name}|state|t"], rtol=1e-9)
    np.testing.assert_allclose(state["H_diag"], REF[f"{name}|state|H_diag"], rtol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_iterates_match_live_pytorch(name):
    torch = pytest.importorskip("torch")

    def set_grad(p, g):
        p.grad = torch.from_numpy(g)

    theirs, _ = run(torch.optim.LBFGS,
                    lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True),
                    set_grad, lambda p: p.detach().numpy().copy(), name)
    mine, _ = ours(name)
    np.testing.assert_array_equal(mine["func_evals"], theirs["func_evals"])
    np.testing.assert_array_equal(mine["n_iter"], theirs["n_iter"])
    np.testing.assert_allclose(mine["x"][1], theirs["x"][1], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(mine["x"], theirs["x"], rtol=1e-9, atol=1e-12)


def test_converges_to_the_least_squares_solution():
    # the minimiser of 1/2 ||A x - y||^2 solves the normal equations; worked out by lstsq
    from tests.reference.generate_lbfgs import _lsq_data
    A, y = _lsq_data()
    x_star = np.linalg.lstsq(A, y, rcond=None)[0]
    result, _ = ours("lsq_wolfe_converges")
    np.testing.assert_allclose(result["x"][-1], x_star, rtol=1e-7, atol=1e-8)


def test_rosenbrock_reaches_its_minimum_with_autograd():
    # the 2-D Rosenbrock (1 - x)^2 + 100 (y - x^2)^2 has its minimum 0 at (1, 1)
    p = Parameter(np.array([-1.5, 2.0]))
    opt = optim.LBFGS([p], max_iter=100, line_search_fn="strong_wolfe",
                      tolerance_grad=1e-10, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        x, y = p[0], p[1]
        loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(p.data, [1.0, 1.0], atol=1e-6)


def test_cubic_minimizer_by_hand():
    # f(x) = x^3 - 3x on [0, 2]: f(0) = 0, f'(0) = -3, f(2) = 2, f'(2) = 9; minimum at x = 1
    assert cubic_minimizer(0.0, 0.0, -3.0, 2.0, 2.0, 9.0) == pytest.approx(1.0, rel=1e-14)
    # the same cubic given right-to-left
    assert cubic_minimizer(2.0, 2.0, 9.0, 0.0, 0.0, -3.0) == pytest.approx(1.0, rel=1e-14)
    # clipped to the bounds
    assert cubic_minimizer(0.0, 0.0, -3.0, 2.0, 2.0, 9.0, bounds=(1.5, 3.0)) == 1.5


def test_strong_wolfe_accepts_the_exact_step_on_a_parabola():
    # f(t) = (t - 0.3)^2 along d = 1 from 0: the first trial t = 1 overshoots (f = 0.49 >
    # 0.09 + c1 t f'(0)), so the interval [0, 1] is zoomed; the cubic through a parabola's
    # values and slopes is the parabola itself, whose minimum 0.3 meets both conditions.
    def evaluate(t):
        return (t - 0.3) ** 2, np.array([2 * (t - 0.3)])

    f, g, t, evals = strong_wolfe(evaluate, 1.0, np.array([1.0]), 0.09, np.array([-0.6]), -0.6)
    assert t == pytest.approx(0.3, rel=1e-12) and f == pytest.approx(0.0, abs=1e-24)
    assert evals == 2


def test_state_dict_round_trip_continues_identically():
    name = "rosenbrock_wolfe_history3"
    _, opt = ours(name)
    saved = opt.state_dict()
    assert set(saved["state"][0]) >= {"func_evals", "n_iter", "d", "t", "old_dirs",
                                      "old_stps", "ro", "H_diag", "prev_flat_grad",
                                      "prev_loss"}
    assert saved["param_groups"][0]["params"] == [0, 1]
    assert saved["param_groups"][0]["history_size"] == 3
    params = [p for p in opt.param_groups[0]["params"]]
    # a copy: stepping on must not change what was saved
    d_saved = saved["state"][0]["d"].copy()

    from tests.reference.generate_lbfgs import PROBLEMS

    def closure_for(ps):
        def closure():
            f, grads = PROBLEMS["rosenbrock"]([p.data for p in ps])
            for p, g in zip(ps, grads):
                p.grad = sn.tensor(g.copy())
            return f
        return closure

    twins = [Parameter(p.data.copy()) for p in params]
    opt2 = optim.LBFGS(twins)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["history_size"] == 3
    opt.step(closure_for(params))
    opt2.step(closure_for(twins))
    np.testing.assert_array_equal(saved["state"][0]["d"], d_saved)
    for a, b in zip(params, twins):
        np.testing.assert_array_equal(a.data, b.data)


def test_float32_stays_float32():
    p = Parameter(np.array([0.5, -1.0], dtype=np.float32))
    opt = optim.LBFGS([p], line_search_fn="strong_wolfe", max_iter=5)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert p.data.dtype == np.float32 and opt.state[p]["d"].dtype == np.float32
    assert np.abs(p.data).max() < 1e-3


def test_bad_use_is_explained():
    p = Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="needs a closure"):
        optim.LBFGS([p]).step()
    with pytest.raises(ValueError, match="one parameter group"):
        optim.LBFGS([{"params": [p]}, {"params": [Parameter(np.zeros(1))]}])
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS([p], line_search_fn="armijo")
    with pytest.raises(ValueError, match="history_size"):
        optim.LBFGS([p], history_size=0)
