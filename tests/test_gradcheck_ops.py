"""Every differentiable op case passes a float64 gradient check with a random projection,
and every registered op has enough cases (an op added without checks fails here)."""
from collections import Counter

import pytest

import scratchnet as sn
from tests.opcases import all_cases

CASES = [c for _, c in all_cases()]
GRAD_CASES = [c for c in CASES if c.gradcheck]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_gradcheck(case):
    ts = []
    for a, g in case.make_inputs():
        ts.append(sn.tensor(a, requires_grad=g) if a.dtype.kind == "f" else sn.tensor(a))
    report = sn.gradcheck(case.ours, ts, atol=case.atol, rtol=case.rtol)
    assert report.passed, f"{case.name}:\n{report}"


def test_every_registered_op_is_checked():
    counts = Counter(c.op for c in GRAD_CASES)
    any_case = Counter(c.op for c in CASES)
    missing = []
    for name, fn in sorted(sn.REGISTRY.items()):
        if fn.differentiable and counts[name] < 2:
            missing.append(f"{name}: {counts[name]} gradcheck case(s), need 2")
        if not fn.differentiable and any_case[name] < 1:
            missing.append(f"{name}: no test case")
    assert not missing, "ops without enough checks:\n" + "\n".join(missing)


def test_cases_name_registered_ops():
    unknown = sorted({c.op for c in CASES} - set(sn.REGISTRY))
    assert not unknown, f"cases name ops that are not registered: {unknown}"
