"""Shared test helpers: run a case through scratchnet and compare with stored references;
run a lesson in fast mode."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import scratchnet as sn


def run_ours(case, arrays, grads_flags, dtype=np.float64, cotangents=None):
    """Forward (and backward with the given cotangents) of a case in scratchnet.

    Returns (outputs, input_grads) as NumPy arrays; input_grads[i] is None for inputs that do
    not require grad."""
    ts = []
    for a, g in zip(arrays, grads_flags):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            ts.append(sn.tensor(a.astype(dtype), requires_grad=g))
        else:
            ts.append(sn.tensor(a))
    out = case.ours(*ts)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    if cotangents is not None:
        total = None
        for o, c in zip(outs, cotangents):
            if c is not None and o.requires_grad:
                term = (o * sn.tensor(c.astype(o.dtype))).sum()
                total = term if total is None else total + term
        if total is not None:
            total.backward()
    grads = [(t.grad.data if t.grad is not None else np.zeros(t.shape, t.dtype))
             if isinstance(t, sn.Tensor) and t.requires_grad else None for t in ts]
    return [o.data for o in outs], grads


def assert_close(ours, ref, what, rtol, atol_scale):
    ours = np.asarray(ours)
    ref = np.asarray(ref)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape}, reference {ref.shape}"
    if ref.dtype.kind in "biu":
        np.testing.assert_array_equal(ours, ref, err_msg=what)
        return
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=atol_scale * scale, err_msg=what)


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def run_lesson_fast(name, language, out_dir, cwd=None, timeout=600, **env_extra):
    """lessons/<name>.py run in fast mode (SCRATCHNET_FAST=1) in `language`, its figures
    written to out_dir, from `cwd` (default: the lessons folder) -> the CompletedProcess,
    stdout and stderr captured as text."""
    env = dict(os.environ, SCRATCHNET_FAST="1", MPLBACKEND="Agg", SCRATCHNET_LANG=language,
               SCRATCHNET_LESSON_OUT=str(out_dir), PYTHONPATH=ROOT, **env_extra)
    path = os.path.join(ROOT, "lessons", f"{name}.py")
    return subprocess.run([sys.executable, "-m", "scratchnet.lesson", path, "--lang", language],
                          env=env, cwd=str(cwd or os.path.dirname(path)), capture_output=True,
                          text=True, timeout=timeout)
