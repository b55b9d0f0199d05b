"""Pooling speed: max_pool2d (k=2 s=2, k=3 s=2 p=1), max_unpool2d and avg_pool2d on a
(32, 64, 56, 56) float32 batch, ours vs PyTorch CPU.

    python benchmarks/bench_pool.py [--rounds 5] [--repeats 9] [--shape 32 64 56 56]
    python benchmarks/bench_pool.py --kernels      # serial vs threaded build of each kernel

Forward alone and forward + backward, through the public API (the autograd bookkeeping is
part of the cost a user pays). Each library runs in its own process (benchmarks/harness.py);
goal: max_pool2d forward+backward at least PyTorch's speed. `--kernels` times each raw
kernel built both ways, with its plane loop in threads (parallel=True) and serially, in one
process (both sides are ours): the evidence for which build ships.
Results go to benchmarks/results/pool.json and pool_kernels.json.
"""
from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np

import harness


def inputs(shape):
    N, C, H, W = shape
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((N, C, H, W)).astype(np.float32)
    g_k2 = rng.standard_normal((N, C, H // 2, W // 2)).astype(np.float32)
    k3 = (H + 2 - 3) // 2 + 1, (W + 2 - 3) // 2 + 1
    g_k3 = rng.standard_normal((N, C, *k3)).astype(np.float32)
    return xa, g_k2, g_k3, xa.copy()


def workloads(F, x, g_k2, g_k3, g_up, detach, no_grad):
    """The same nine workloads in either library: F is its functional module."""
    def fwd_bwd(fn, g):
        def run():
            x.grad = None
            fn(x).backward(g)
        return run

    with no_grad():
        y, idx = F.max_pool2d(detach(x), 2, return_indices=True)
    yg = detach(y).requires_grad_(True)

    def unpool_fwd_bwd():
        yg.grad = None
        F.max_unpool2d(yg, idx, 2).backward(g_up)

    def inference(fn):
        def run():
            with no_grad():
                return fn()
        return run

    return {
        "max_pool2d k2s2 fwd": inference(lambda: F.max_pool2d(x, 2)),
        "max_pool2d k2s2 fwd+bwd": fwd_bwd(lambda t: F.max_pool2d(t, 2), g_k2),
        "max_pool2d k3s2p1 fwd": inference(lambda: F.max_pool2d(x, 3, 2, 1)),
        "max_pool2d k3s2p1 fwd+bwd": fwd_bwd(lambda t: F.max_pool2d(t, 3, 2, 1), g_k3),
        "max_unpool2d k2s2 fwd": inference(lambda: F.max_unpool2d(y, idx, 2)),
        "max_unpool2d k2s2 fwd+bwd": unpool_fwd_bwd,
        "avg_pool2d k2s2 fwd": inference(lambda: F.avg_pool2d(x, 2)),
        "avg_pool2d k2s2 fwd+bwd": fwd_bwd(lambda t: F.avg_pool2d(t, 2), g_k2),
        "avg_pool2d k3s2p1 fwd+bwd": fwd_bwd(lambda t: F.avg_pool2d(t, 3, 2, 1), g_k3),
    }


def ours(args):
    import scratchnet as sn
    import scratchnet.nn.functional as F
    xa, g_k2, g_k3, g_up = inputs(args.shape)
    return workloads(F, sn.tensor(xa, requires_grad=True), sn.tensor(g_k2), sn.tensor(g_k3),
                     sn.tensor(g_up), lambda t: t.detach(), sn.no_grad)


def torch_side(args):
    import torch
    xa, g_k2, g_k3, g_up = inputs(args.shape)
    t = torch.from_numpy
    return workloads(torch.nn.functional, t(xa).requires_grad_(True), t(g_k2), t(g_k3),
                     t(g_up), lambda v: v.detach(), torch.no_grad)


def kernel_workloads(planes, grad, indices, pooled):
    """The raw kernels, each compiled twice from the same source: with parallel=True (prange
    spreads the planes over threads) and without (prange is plain range)."""
    import numba

    from scratchnet.kernels import pool as K
    from scratchnet.kernels import unpool as KU

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


def kernel_table(shape, repeats):
    import numba

    from scratchnet.kernels import pool as K
    N, C, H, W = shape
    xa, g_k2, _, _ = inputs(shape)
    planes = np.ascontiguousarray(xa).reshape(N * C, H, W)
    pooled, indices = K.max_pool2d_forward(planes, 2, 2, 2, 2, 0, 0, 1, 1, H // 2, W // 2)
    runs, shipped = kernel_workloads(planes, g_k2.reshape(pooled.shape), indices, pooled)
    kmed = interleaved(runs, repeats)
    print(f"shape {tuple(shape)}, numba {numba.__version__}, {numba.get_num_threads()} threads")
    print(f"{'kernel (no autograd)':30}{'serial ms':>10}{'prange ms':>10}{'speed-up':>10}"
          f"  shipped")
    kernels = {}
    for name in shipped:
        s, p = kmed[(name, "serial")] * 1e3, kmed[(name, "parallel")] * 1e3
        kernels[name] = {"serial_ms": s, "parallel_ms": p, "speedup": s / p,
                         "shipped": shipped[name]}
        print(f"{name:30}{s:10.2f}{p:10.2f}{s / p:10.2f}  {shipped[name]}")
    with open(harness.results_path("pool_kernels"), "w") as f:
        json.dump({"shape": list(shape), "kernels": kernels}, f, indent=2)


def arguments(ap):
    ap.add_argument("--shape", type=int, nargs=4, default=[32, 64, 56, 56])
    ap.add_argument("--kernels", action="store_true",
                    help="time serial vs threaded kernel builds instead (one process)")


def report(result, args):
    r = harness.ratios(result, "torch")
    if r:
        worst = min(r.values())
        goal = r.get("max_pool2d k3s2p1 fwd+bwd")
        print(f"slowest relative to PyTorch: {worst:.2f}; max_pool2d k3s2p1 fwd+bwd "
              f"{goal:.2f} (goal: at least 1.00)")
    return {"shape": args.shape}


if __name__ == "__main__":
    if "--kernels" in sys.argv:
        options = harness.parser("", arguments).parse_known_args()[0]
        kernel_table(options.shape, options.repeats)
    else:
        harness.main(__file__, {"scratchnet": ours, "torch": torch_side}, name="pool",
                     description=__doc__.splitlines()[0], add_arguments=arguments,
                     repeats=9, report=report)
