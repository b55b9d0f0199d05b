"""Engine overhead: a 1,000-op graph of small tensors, forward + backward, ours vs PyTorch.

    python benchmarks/bench_engine.py [--rounds 5] [--repeats 15] [--size 8]

Small tensors make the arithmetic negligible, so the time is what the engine itself costs per
op (building the graph, dispatch, the backward walk). Each library runs in its own process
(benchmarks/harness.py); goal: PyTorch's time / ours at least 0.5 (ours at most 2x).
"""
from __future__ import annotations

import numpy as np

import harness

N_OPS = 1000


def inputs(size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((size, size)).astype(np.float32)
    w = (rng.standard_normal((size, size)) * 0.1).astype(np.float32)
    return x, w


def graph(lib, x, w):
    """250 rounds of 4 ops (matmul, add, tanh, mul) plus a final sum: 1,001 recorded ops."""
    h = x
    for _ in range(N_OPS // 4):
        h = lib.tanh(h @ w + x) * 0.5
    return h.sum()


def workloads(lib, tensor, args):
    xa, wa = inputs(args.size)
    x, w = tensor(xa, requires_grad=True), tensor(wa, requires_grad=True)

    def run():
        x.grad = w.grad = None
        graph(lib, x, w).backward()
    return {f"{N_OPS}-op graph fwd+bwd": run}


def ours(args):
    import scratchnet as sn
    return workloads(sn, sn.tensor, args)


def torch_side(args):
    import torch
    return workloads(torch, torch.tensor, args)


def arguments(ap):
    ap.add_argument("--size", type=int, default=8, help="side of the small square tensors")


def report(result, args):
    r = harness.ratios(result, "torch")
    for case, value in r.items():
        print(f"{case}: ours takes {1 / value:.2f}x PyTorch's time "
              f"({result['cases'][case]['scratchnet']['median'] / N_OPS * 1e6:.2f} us/op; "
              f"goal: at most 2x)")
    return {"ops": N_OPS}


if __name__ == "__main__":
    harness.main(__file__, {"scratchnet": ours, "torch": torch_side}, name="engine",
                 description=__doc__.splitlines()[0], add_arguments=arguments, repeats=15,
                 report=report)
