"""Every op against outputs and gradients stored from PyTorch (tests/reference/*.npz).

Runs in float64 (tight tolerance) and in float32 (the output must stay float32 and agree to
float32 precision). No torch needed."""
import os

import numpy as np
import pytest

from tests.helpers import assert_close, run_ours
from tests.opcases import all_cases

HERE = os.path.join(os.path.dirname(__file__), "reference")
_stores = {}


def _store(mod):
    if mod not in _stores:
        path = os.path.join(HERE, f"{mod}.npz")
        _stores[mod] = dict(np.load(path)) if os.path.exists(path) else None
    return _stores[mod]


CASES = [(m, c) for m, c in all_cases() if c.theirs is not None]


def _load(mod, case):
    store = _store(mod)
    if store is None or f"{case.name}|in0" not in store and f"{case.name}|out0" not in store:
        pytest.fail(f"no stored reference for case {case.name!r} in tests/reference/{mod}.npz; "
                    f"run: python tests/reference/generate.py {mod}")
    def seq(kind):
        out, i = [], 0
        while f"{case.name}|{kind}{i}" in store or (kind in ("cot", "grad") and i < 8):
            out.append(store.get(f"{case.name}|{kind}{i}"))
            i += 1
        return out
    ins = seq("in")
    outs = seq("out")
    cots = [store.get(f"{case.name}|cot{j}") for j in range(len(outs))]
    grads = [store.get(f"{case.name}|grad{i}") for i in range(len(ins))]
    return ins, outs, cots, grads


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mod,case", CASES, ids=[c.name for _, c in CASES])
def test_matches_pytorch(mod, case, dtype):
    ins, ref_outs, cots, ref_grads = _load(mod, case)
    flags = [g is not None for g in ref_grads]
    outs, grads = run_ours(case, ins, flags, dtype=dtype, cotangents=cots)
    rtol, atol = (1e-7, 1e-9) if dtype == np.float64 else (2e-4, 2e-5)
    assert len(outs) == len(ref_outs), f"{case.name}: {len(outs)} outputs, reference " \
                                       f"{len(ref_outs)}"
    for j, (o, r) in enumerate(zip(outs, ref_outs)):
        if r.dtype.kind == "f":
            want = np.dtype(case.out_dtype or dtype)
            assert o.dtype == want, f"{case.name}: output {j} is {o.dtype}, expected " \
                                     f"{want}"
        assert_close(o, r, f"{case.name} output {j} ({np.dtype(dtype).name})", rtol, atol)
    for i, (g, r) in enumerate(zip(grads, ref_grads)):
        if r is None:
            continue
        assert g is not None, f"{case.name}: no gradient for input {i}"
        assert g.dtype == dtype, f"{case.name}: gradient {i} is {g.dtype}, input was {dtype}"
        assert_close(g, r, f"{case.name} grad of input {i} ({np.dtype(dtype).name})",
                     rtol, atol)
