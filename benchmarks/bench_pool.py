"""Pooling speed: max_pool2d (k=2 s=2, k=3 s=2 p=1), max_unpool2d and avg_pool2d on an
(8, 64, 112, 112) float32 batch, ours vs PyTorch CPU.

    python benchmarks/bench_pool.py [--repeats 9] [--shape 8 64 112 112]

Forward alone and forward + backward, through the public API (the autograd bookkeeping is
part of the cost a user pays). Every workload of both frameworks runs once per round, in
turn, so machine noise hits both alike; the median over rounds is reported with the ratio
ours / PyTorch (goal: within 2x). A second table times each raw kernel built both ways, with
its plane loop in threads (parallel=True) and serially: the evidence for which build ships.
Results go to benchmarks/results/pool.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numba
import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.kernels import pool as K
from scratchnet.kernels import unpool as KU


def ours_workloads(x, g_k2, g_k3, g_up):
    def fwd_bwd(fn, g):
        def run():
            x.grad = None
            fn(x).backward(g)
        return run

    def unpool_fwd():
        y, idx = F.max_pool2d(x.detach(), 2, return_indices=True)
        return lambda: F.max_unpool2d(y, idx, 2)

    def unpool_fwd_bwd():
        y, idx = F.max_pool2d(x.detach(), 2, return_indices=True)
        y = y.detach().requires_grad_(True)

        def run():
            y.grad = None
            F.max_unpool2d(y, idx, 2).backward(g_up)
        return run

    return {
        "max_pool2d k2s2 fwd": lambda: F.max_pool2d(x.detach(), 2),
        "max_pool2d k2s2 fwd+bwd": fwd_bwd(lambda t: F.max_pool2d(t, 2), g_k2),
        "max_pool2d k3s2p1 fwd": lambda: F.max_pool2d(x.detach(), 3, 2, 1),
        "max_pool2d k3s2p1 fwd+bwd": fwd_bwd(lambda t: F.max_pool2d(t, 3, 2, 1), g_k3),
        "max_unpool2d k2s2 fwd": unpool_fwd(),
        "max_unpool2d k2s2 fwd+bwd": unpool_fwd_bwd(),
        "avg_pool2d k2s2 fwd": lambda: F.avg_pool2d(x.detach(), 2),
        "avg_pool2d k2s2 fwd+bwd": fwd_bwd(lambda t: F.avg_pool2d(t, 2), g_k2),
        "avg_pool2d k3s2p1 fwd+bwd": fwd_bwd(lambda t: F.avg_pool2d(t, 3, 2, 1), g_k3),
    }


def torch_workloads(torch, x, g_k2, g_k3, g_up):
    TF = torch.nn.functional

    def fwd_bwd(fn, g):
        def run():
            x.grad = None
            fn(x).backward(g)
        return run

    with torch.no_grad():
        y, idx = TF.max_pool2d(x, 2, return_indices=True)
    yg = y.clone().requires_grad_(True)

    def unpool_fwd_bwd():
        yg.grad = None
        TF.max_unpool2d(yg, idx, 2).backward(g_up)

    def no_grad(fn):
        def run():
            with torch.no_grad():
                return fn()
        return run

    return {
        "max_pool2d k2s2 fwd": no_grad(lambda: TF.max_pool2d(x, 2)),
        "max_pool2d k2s2 fwd+bwd": fwd_bwd(lambda t: TF.max_pool2d(t, 2), g_k2),
        "max_pool2d k3s2p1 fwd": no_grad(lambda: TF.max_pool2d(x, 3, 2, 1)),
        "max_pool2d k3s2p1 fwd+bwd": fwd_bwd(lambda t: TF.max_pool2d(t, 3, 2, 1), g_k3),
        "max_unpool2d k2s2 fwd": no_grad(lambda: TF.max_unpool2d(y, idx, 2)),
        "max_unpool2d k2s2 fwd+bwd": unpool_fwd_bwd,
        "avg_pool2d k2s2 fwd": no_grad(lambda: TF.avg_pool2d(x, 2)),
        "avg_pool2d k2s2 fwd+bwd": fwd_bwd(lambda t: TF.avg_pool2d(t, 2), g_k2),
        "avg_pool2d k3s2p1 fwd+bwd": fwd_bwd(lambda t: TF.avg_pool2d(t, 3, 2, 1), g_k3),
    }


def kernel_workloads(planes, grad, indices, pooled):
    """The raw kernels, each compiled twice from the same source: with parallel=True (prange
    spreads the planes over threads) and without (prange is plain range)."""
    P, H, W = planes.shape
    oh, ow = pooled.shape[1:]
    flat_pooled, flat_idx = pooled.reshape(P, oh * ow), indices.reshape(P, oh * ow)
    calls = {
        "max_pool2d_forward k2s2": (K.max_pool2d_forward,
                                    (planes, 2, 2, 2, 2, 0, 0, 1, 1, oh, ow)),
        "max_pool2d_forward k3s2p1": (K.max_pool2d_forward,
                                      (planes, 3, 3, 2, 2, 1, 1, 1, 1, oh, ow)),
        "max_pool2d_backward k2s2": (K.max_pool2d_backward, (grad, indices, H, W)),
        "max_unpool2d_forward": (KU.max_unpool2d_forward, (flat_pooled, flat_idx, H * W)),
        "max_unpool2d_backward": (KU.max_unpool2d_backward,
                                  (planes.reshape(P, H * W), flat_idx)),
        "avg_pool2d_forward k2s2": (K.avg_pool2d_forward,
                                    (planes, 2, 2, 2, 2, 0, 0, oh, ow, True, 0)),
        "avg_pool2d_backward k2s2": (K.avg_pool2d_backward,
                                     (grad, H, W, 2, 2, 2, 2, 0, 0, True, 0)),
        "adaptive_max_pool2d_fwd 7x7": (K.adaptive_max_pool2d_forward, (planes, 7, 7)),
    }
    runs, shipped = {}, {}
    for name, (kernel, args) in calls.items():
        shipped[name] = "parallel" if kernel.targetoptions.get("parallel") else "serial"
        for build, opts in (("serial", {}), ("parallel", {"parallel": True})):
            f = numba.njit(nogil=True, **opts)(kernel.py_func)
            runs[(name, build)] = (lambda f=f, args=args: f(*args))
    return runs, shipped


def interleaved(workloads, repeats):
    """{key: median seconds}; one warm-up call each, then `repeats` rounds in turn."""
    for fn in workloads.values():
        fn()
    times = {k: [] for k in workloads}
    for _ in range(repeats):
        for k, fn in workloads.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--shape", type=int, nargs=4, default=[8, 64, 112, 112])
    args = ap.parse_args()
    N, C, H, W = args.shape
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((N, C, H, W)).astype(np.float32)
    g_k2 = rng.standard_normal((N, C, H // 2, W // 2)).astype(np.float32)
    k3 = (H + 2 - 3) // 2 + 1, (W + 2 - 3) // 2 + 1
    g_k3 = rng.standard_normal((N, C, *k3)).astype(np.float32)
    g_up = xa.copy()

    x = sn.tensor(xa, requires_grad=True)
    workloads = {(k, "ours"): fn for k, fn in
                 ours_workloads(x, sn.tensor(g_k2), sn.tensor(g_k3), sn.tensor(g_up)).items()}
    try:
        import torch
        xt = torch.from_numpy(xa.copy()).requires_grad_(True)
        for k, fn in torch_workloads(torch, xt, torch.from_numpy(g_k2),
                                     torch.from_numpy(g_k3), torch.from_numpy(g_up)).items():
            workloads[(k, "torch")] = fn
        peer = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    except ImportError:
        peer = None
    med = interleaved(workloads, args.repeats)

    print(f"shape {tuple(args.shape)} float32, median of {args.repeats}; "
          f"numba {numba.__version__}, {numba.get_num_threads()} threads; peer: {peer}")
    print(f"{'workload':28}{'ours ms':>10}{'torch ms':>10}{'ours/torch':>12}")
    rows = {}
    for name in ours_workloads(x, None, None, None):
        o = med[(name, "ours")] * 1e3
        t = med.get((name, "torch"))
        t = None if t is None else t * 1e3
        rows[name] = {"ours_ms": o, "torch_ms": t, "ratio": None if t is None else o / t}
        tail = f"{t:10.2f}{o / t:12.2f}" if t is not None else f"{'-':>10}{'-':>12}"
        print(f"{name:28}{o:10.2f}{tail}")
    worst = max((r["ratio"] for r in rows.values() if r["ratio"] is not None), default=None)
    if worst is not None:
        print(f"worst ratio {worst:.2f} (goal: within 2x: {'met' if worst <= 2 else 'NOT met'})")

    planes = np.ascontiguousarray(xa).reshape(N * C, H, W)
    pooled, indices = K.max_pool2d_forward(planes, 2, 2, 2, 2, 0, 0, 1, 1, H // 2, W // 2)
    runs, shipped = kernel_workloads(planes, g_k2.reshape(pooled.shape), indices, pooled)
    kmed = interleaved(runs, args.repeats)
    print(f"\n{'kernel (no autograd)':30}{'serial ms':>10}{'prange ms':>10}{'speed-up':>10}"
          f"  shipped")
    kernels = {}
    for name in shipped:
        s, p = kmed[(name, "serial")] * 1e3, kmed[(name, "parallel")] * 1e3
        kernels[name] = {"serial_ms": s, "parallel_ms": p, "speedup": s / p,
                         "shipped": shipped[name]}
        print(f"{name:30}{s:10.2f}{p:10.2f}{s / p:10.2f}  {shipped[name]}")

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "pool.json"), "w") as f:
        json.dump({"shape": args.shape, "dtype": "float32", "repeats": args.repeats,
                   "peer": peer, "numba_threads": numba.get_num_threads(),
                   "workloads": rows, "kernels": kernels}, f, indent=2)


if __name__ == "__main__":
    main()
