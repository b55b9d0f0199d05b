"""Upsampling x2 on (8, 64, 56, 56) float32, forward and backward, ours vs PyTorch CPU.

    python benchmarks/bench_upsample.py [--rounds 5] [--repeats 15] [--no-compile]
    python benchmarks/bench_upsample.py --threads 1     # one thread per side

Forward runs without a graph; backward times only `out.backward(g)` on a freshly built graph
(prepared untimed), the kernel plus the engine's bookkeeping on our side, autograd on
PyTorch's. Each library runs in its own processes (benchmarks/harness.py: alternating
rounds, medians, the same thread count); running once with --threads 1 and once with 2 says
whether prange over the N*C planes pays. The output is 8*64*112*112 = 6.4 M floats
(25.7 MB), so every case is bound by memory traffic rather than arithmetic: GB/s (input and
output once each) is printed next to the time.

Compile time: a fresh process with an empty numba cache (cold) and again with the cache it
left (warm), from `import scratchnet` to the end of the first forward + backward of both
modes in both dtypes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import harness

SHAPE = (8, 64, 56, 56)
MODES = {"nearest": dict(mode="nearest"),
         "bilinear": dict(mode="bilinear", align_corners=False)}

COMPILE_CHILD = r"""
import time
t0 = time.perf_counter()
import numpy as np
import scratchnet as sn
import scratchnet.nn.functional as F
t_import = time.perf_counter() - t0
for dtype in (np.float32, np.float64):
    for kw in (dict(mode="nearest"), dict(mode="bilinear", align_corners=False)):
        x = sn.tensor(np.ones((1, 2, 3, 3), dtype), requires_grad=True)
        F.interpolate(x, scale_factor=2, **kw).sum().backward()
import json, sys
json.dump({"import": t_import, "total": time.perf_counter() - t0}, sys.stdout)
"""


def compile_times():
    def run(cache):
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", COMPILE_CHILD], env=env,
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        return json.loads(out.stdout)

    with tempfile.TemporaryDirectory() as cache:
        return run(cache), run(cache)


def workloads(interpolate, tensor, no_grad):
    rng = np.random.default_rng(0)
    xa = rng.standard_normal(SHAPE).astype(np.float32)
    ga = rng.standard_normal(SHAPE[:2] + (2 * SHAPE[2], 2 * SHAPE[3])).astype(np.float32)
    x, g = tensor(xa, True), tensor(ga, False)
    work = {}
    for name, kw in MODES.items():
        def forward(kw=kw):
            with no_grad():
                interpolate(x, scale_factor=2, **kw)

        graph = {}

        def prepare(kw=kw):
            x.grad = None
            graph["out"] = interpolate(x, scale_factor=2, **kw)

        def backward():
            graph["out"].backward(g)
        backward.prepare = prepare
        work[f"{name} fwd"], work[f"{name} bwd"] = forward, backward
    return work


def ours(args):
    import scratchnet as sn
    return workloads(sn.nn.functional.interpolate,
                     lambda a, grad: sn.tensor(a, requires_grad=grad), sn.no_grad)


def torch_side(args):
    import torch
    return workloads(torch.nn.functional.interpolate,
                     lambda a, grad: torch.from_numpy(a).requires_grad_(grad), torch.no_grad)


def arguments(ap):
    ap.add_argument("--no-compile", action="store_true", help="skip the compile-time runs")


def report(result, args):
    mbytes = 4 * (np.prod(SHAPE) + np.prod(SHAPE) * 4) / 1e6
    for case, by in result["cases"].items():
        line = f"{case}: ours {mbytes / (by['scratchnet']['median'] * 1e3):.1f} GB/s"
        if "torch" in by:
            line += f", {by['torch']['median'] / by['scratchnet']['median']:.2f} of PyTorch's speed"
        print(line)
    extra = {"shape": SHAPE, "scale_factor": 2}
    if not args.no_compile:
        cold, warm = compile_times()
        print(f"import + first call of both modes, both dtypes: cold {cold['total']:.2f} s "
              f"(import {cold['import']:.2f} s), warm {warm['total']:.2f} s "
              f"(import {warm['import']:.2f} s)")
        extra["compile"] = {"cold": cold, "warm": warm}
    return extra


if __name__ == "__main__":
    harness.main(__file__, {"scratchnet": ours, "torch": torch_side}, name="upsample",
                 description=__doc__.splitlines()[0], add_arguments=arguments, rounds=5,
                 repeats=15, report=report)
