"""gradcheck itself: it must pass right backwards and catch wrong ones."""
import numpy as np
import pytest

import scratchnet as sn


def x64(shape, seed=0):
    return sn.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


class CenterZeroGrad(sn.Function):
    """x - mean(x) with a backward that returns zeros: right for an all-ones upstream
    gradient (1 - mean(1) = 0), wrong for any other."""

    @staticmethod
    def forward(ctx, x):
        return x - x.mean()

    @staticmethod
    def backward(ctx, grad):
        return np.zeros_like(grad)


def test_random_projection_catches_what_sum_hides():
    x = x64((5,))
    # with sum as the contraction this wrong backward would look right:
    y = CenterZeroGrad.apply(x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 0.0)
    report = sn.gradcheck(CenterZeroGrad.apply, [x64((5,))])
    assert not report.passed


def test_detach_trick_is_reported_as_failing():
    report = sn.gradcheck(lambda t: t * t.detach(), [x64((3, 4))])
    assert not report.passed
    r = report.inputs[0]
    assert r.max_abs_err > 0.1
    # the worst element's numeric derivative is twice the analytic one
    np.testing.assert_allclose(r.worst_numeric, 2 * r.worst_analytic, rtol=1e-6)


def test_report_fields_and_text():
    a, b = x64((3, 4), 1), x64((4, 2), 2)
    report = sn.gradcheck(lambda p, q: (p @ q).tanh(), [a, b])
    assert report.passed and bool(report)
    assert [r.index for r in report.inputs] == [0, 1]
    assert all(r.max_abs_err < 1e-8 for r in report.inputs)
    text = str(report)
    assert "PASSED" in text and "input 0 (3, 4): ok" in text and "input 1 (4, 2): ok" in text


def test_only_inputs_requiring_grad_are_checked():
    a = x64((2, 3))
    b = sn.tensor(np.ones((2, 3)))
    report = sn.gradcheck(lambda p, q: p * q, [a, b])
    assert [r.index for r in report.inputs] == [0]


def test_float32_inputs_are_checked_in_float64():
    a = sn.randn(3, requires_grad=True)
    seen = []

    def f(t):
        seen.append(t.dtype)
        return t.exp()

    assert sn.gradcheck(f, [a]).passed
    assert set(seen) == {np.dtype(np.float64)}


def test_raise_on_fail_and_no_inputs():
    with pytest.raises(sn.GradcheckError, match="MISMATCH"):
        sn.gradcheck(CenterZeroGrad.apply, [x64((4,))], raise_on_fail=True)
    with pytest.raises(ValueError, match="no input requires grad"):
        sn.gradcheck(lambda t: t * 2, [sn.tensor(np.ones(2))])


def test_multiple_outputs_are_all_projected():
    def f(t):
        a, b = t.split([2, 3])
        return a * 2, b.exp()

    assert sn.gradcheck(f, [x64((5,))]).passed


def test_seed_changes_projection_but_not_verdict():
    for seed in range(3):
        assert sn.gradcheck(lambda t: t.softmax(axis=-1), [x64((2, 5))], seed=seed).passed
