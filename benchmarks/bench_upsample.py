"""Upsampling x2 on (8, 64, 56, 56) float32, forward and backward, ours vs PyTorch CPU.

    python benchmarks/bench_upsample.py [--repeats 15] [--no-compile]

Forward runs without a graph; backward times only `out.backward(g)` on a freshly built graph
(the kernel plus the engine's bookkeeping on our side, autograd on PyTorch's). Ours and
PyTorch alternate inside each repeat and the median is reported with the ratio ours/PyTorch.
Ours is also timed on one numba thread, which is what says whether `prange` over the
N*C planes pays on this machine; the best run is printed next to each median because on a
machine shared with other jobs a second thread often waits for a core, and the best run
shows what the threads do when they get one. The output is 8*64*112*112 = 6.4 M floats (25.7 MB), so
every case is bound by memory traffic rather than arithmetic: GB/s (bytes read + written,
input and output once each) is printed next to the time.

Compile time: a fresh process with an empty numba cache (cold) and again with the cache it
left (warm), from `import scratchnet` to the end of the first forward + backward of both
modes in both dtypes.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F

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


def ours_forward(x, kw):
    with sn.no_grad():
        F.interpolate(x, scale_factor=2, **kw)


def ours_backward(x, g, kw):
    x.grad = None
    out = F.interpolate(x, scale_factor=2, **kw)
    t0 = time.perf_counter()
    out.backward(g)
    return time.perf_counter() - t0


def timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--no-compile", action="store_true", help="skip the compile-time runs")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        torch = None

    rng = np.random.default_rng(0)
    xa = rng.standard_normal(SHAPE).astype(np.float32)
    out_shape = SHAPE[:2] + (2 * SHAPE[2], 2 * SHAPE[3])
    ga = rng.standard_normal(out_shape).astype(np.float32)
    x = sn.tensor(xa, requires_grad=True)
    g = sn.tensor(ga)
    if torch is not None:
        tx = torch.from_numpy(xa).requires_grad_()
        tg = torch.from_numpy(ga)
    threads = numba.get_num_threads()
    mbytes = (xa.nbytes + ga.nbytes) / 1e6

    results = []
    for name, kw in MODES.items():
        tkw = dict(kw)
        ours_backward(x, g, kw)          # compile / load from cache outside the timing
        ours_forward(x, kw)
        times = {k: [] for k in ("fwd", "fwd_1t", "bwd", "bwd_1t", "torch_fwd", "torch_bwd")}
        for _ in range(args.repeats):
            times["fwd"].append(timed(ours_forward, x, kw))
            times["bwd"].append(ours_backward(x, g, kw))
            numba.set_num_threads(1)
            times["fwd_1t"].append(timed(ours_forward, x, kw))
            times["bwd_1t"].append(ours_backward(x, g, kw))
            numba.set_num_threads(threads)
            if torch is not None:
                with torch.no_grad():
                    t0 = time.perf_counter()
                    torch.nn.functional.interpolate(tx, scale_factor=2, **tkw)
                    times["torch_fwd"].append(time.perf_counter() - t0)
                tx.grad = None
                tout = torch.nn.functional.interpolate(tx, scale_factor=2, **tkw)
                t0 = time.perf_counter()
                tout.backward(tg)
                times["torch_bwd"].append(time.perf_counter() - t0)
        med = {k: 1e3 * statistics.median(v) for k, v in times.items() if v}
        best = {k: 1e3 * min(v) for k, v in times.items() if v}
        for phase in ("fwd", "bwd"):
            row = {"mode": name, "phase": phase, "ours_ms": med[phase],
                   "ours_1thread_ms": med[f"{phase}_1t"],
                   "torch_ms": med.get(f"torch_{phase}"),
                   "ours_best_ms": best[phase], "ours_1thread_best_ms": best[f"{phase}_1t"],
                   "torch_best_ms": best.get(f"torch_{phase}"),
                   "ours_GBps": mbytes / med[phase]}
            row["ratio"] = row["ours_ms"] / row["torch_ms"] if row["torch_ms"] else None
            results.append(row)

    print(f"x2 upsampling of {SHAPE} float32 -> {out_shape}; median of {args.repeats}; "
          f"numba threads {threads}"
          + (f", torch {torch.__version__} threads {torch.get_num_threads()}" if torch else ""))
    print("median ms (best in brackets: on a shared machine, the least disturbed run)")
    print(f"{'case':14}{'ours':>16}{'ours, 1 thread':>18}{'torch':>16}{'ours/torch':>12}"
          f"{'ours GB/s':>11}")

    def cell(r, key, width):
        if r[key] is None:
            return f"{'-':>{width}}"
        return f"{r[key]:.2f} ({r[key.replace('_ms', '_best_ms')]:.2f})".rjust(width)

    for r in results:
        ratio = f"{r['ratio']:12.2f}" if r["ratio"] else f"{'-':>12}"
        print(f"{r['mode'] + ' ' + r['phase']:14}{cell(r, 'ours_ms', 16)}"
              f"{cell(r, 'ours_1thread_ms', 18)}{cell(r, 'torch_ms', 16)}{ratio}"
              f"{r['ours_GBps']:11.1f}")

    report = {"shape": SHAPE, "scale_factor": 2, "dtype": "float32", "repeats": args.repeats,
              "numba_threads": threads,
              "torch": torch.__version__ if torch else None,
              "torch_threads": torch.get_num_threads() if torch else None,
              "results": results}
    if not args.no_compile:
        cold, warm = compile_times()
        print(f"import + first call of both modes, both dtypes: cold {cold['total']:.2f} s "
              f"(import {cold['import']:.2f} s), warm {warm['total']:.2f} s "
              f"(import {warm['import']:.2f} s)")
        report["compile"] = {"cold": cold, "warm": warm}
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "upsample.json"), "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
