"""Engine overhead: a 1,000-op graph of small tensors, forward + backward, ours vs PyTorch.

    python benchmarks/bench_engine.py [--repeats 15]

Small tensors make the arithmetic negligible, so the time is what the engine itself costs per
op (building the graph, dispatch, the backward walk). Both frameworks run the same graph in
one process, interleaved, and the median of the repeats is reported with the ratio
ours / PyTorch (goal: within 3x).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

import scratchnet as sn

N_OPS = 1000


def graph(lib, x, w):
    """250 rounds of 4 ops (matmul, add, tanh, mul) plus a final sum: 1,001 recorded ops."""
    h = x
    for _ in range(N_OPS // 4):
        h = lib.tanh(h @ w + x) * 0.5
    return h.sum()


def run_ours(x, w):
    x.grad = w.grad = None
    graph(sn, x, w).backward()


def run_torch(torch, x, w):
    x.grad = w.grad = None
    graph(torch, x, w).backward()


def timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--size", type=int, default=8, help="side of the small square tensors")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    xa = rng.standard_normal((args.size, args.size)).astype(np.float32)
    wa = (rng.standard_normal((args.size, args.size)) * 0.1).astype(np.float32)
    x = sn.tensor(xa, requires_grad=True)
    w = sn.tensor(wa, requires_grad=True)
    try:
        import torch
        torch.set_num_threads(1)
        tx = torch.tensor(xa, requires_grad=True)
        tw = torch.tensor(wa, requires_grad=True)
    except ImportError:
        torch = None

    ours, theirs = [], []
    run_ours(x, w)
    if torch:
        run_torch(torch, tx, tw)
    for _ in range(args.repeats):
        ours.append(timed(run_ours, x, w))
        if torch:
            theirs.append(timed(run_torch, torch, tx, tw))

    o = statistics.median(ours)
    result = {"ops": N_OPS, "tensor": [args.size, args.size], "ours_ms": o * 1e3,
              "ours_us_per_op": o / N_OPS * 1e6}
    print(f"{N_OPS}-op graph of {args.size}x{args.size} float32 tensors, forward + backward, "
          f"median of {args.repeats}")
    print(f"  scratchnet : {o * 1e3:8.2f} ms  ({o / N_OPS * 1e6:.2f} us/op)")
    if torch:
        t = statistics.median(theirs)
        result.update(torch_ms=t * 1e3, torch_us_per_op=t / N_OPS * 1e6, ratio=o / t,
                      torch_version=torch.__version__)
        print(f"  PyTorch    : {t * 1e3:8.2f} ms  ({t / N_OPS * 1e6:.2f} us/op)")
        print(f"  ratio ours/PyTorch: {o / t:.2f}x  (goal: <= 3x)")
    out = os.path.join(os.path.dirname(__file__), "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "engine.json"), "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
