"""Speed of the nn layer ops and losses, ours vs PyTorch CPU, forward + backward through the
public API (module call, autograd bookkeeping included), float32.

    python benchmarks/bench_nn.py [--repeats 9]

Workloads (AlexNet/VGG-sized where the course uses them):
  linear        (256, 4096) -> 1000, the fc8 layer; GFLOP/s next to NumPy's own GEMM
  batch_norm2d  (32, 64, 56, 56) training mode
  lrn           AlexNet's LRN(5) on (32, 96, 55, 55)
  dropout       p=0.5 on (256, 4096)
  cross_entropy (256, 1000) logits; and FCN-style (8, 21, 64, 64) with ignore_index
  mse_loss      SRCNN-sized (16, 1, 128, 128)
  smooth_l1     (2048, 4) box deltas
Every workload of both frameworks runs once per round, in turn, so machine noise hits both
alike; the table shows medians over rounds and the ratio ours / PyTorch. Results go to
benchmarks/results/nn.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn


def _rng_arrays():
    rng = np.random.default_rng(0)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    return {
        "fc_x": f(256, 4096), "fc_w": f(1000, 4096) * 0.01, "fc_b": f(1000), "fc_g": f(256, 1000),
        "bn_x": f(32, 64, 56, 56), "bn_g": f(32, 64, 56, 56),
        "lrn_x": f(32, 96, 55, 55), "lrn_g": f(32, 96, 55, 55),
        "do_x": f(256, 4096), "do_g": f(256, 4096),
        "ce_x": f(256, 1000), "ce_t": rng.integers(0, 1000, 256),
        "seg_x": f(8, 21, 64, 64),
        "seg_t": np.where(rng.random((8, 64, 64)) < 0.1, 255,
                          rng.integers(0, 21, (8, 64, 64))),
        "sr_x": f(16, 1, 128, 128), "sr_y": f(16, 1, 128, 128),
        "box_x": f(2048, 4), "box_y": f(2048, 4),
    }


def _ours(a):
    def leaf(k):
        return sn.tensor(a[k], requires_grad=True)

    fc = nn.Linear(4096, 1000)
    fc.load_state_dict({"weight": a["fc_w"], "bias": a["fc_b"]})
    bn = nn.BatchNorm2d(64)
    lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    drop = nn.Dropout(0.5)
    x = {k: leaf(k) for k in ("fc_x", "bn_x", "lrn_x", "do_x", "ce_x", "seg_x", "sr_x",
                              "box_x")}
    t = {k: sn.tensor(a[k]) for k in ("ce_t", "seg_t", "sr_y", "box_y")}

    def step(make, grad=None):
        def run():
            out = make()
            out.backward(grad) if grad is not None else out.backward()
        return run

    return {
        "linear fc8 fwd+bwd": step(lambda: fc(x["fc_x"]), a["fc_g"]),
        "batch_norm2d train fwd+bwd": step(lambda: bn(x["bn_x"]), a["bn_g"]),
        "lrn(5) fwd+bwd": step(lambda: lrn(x["lrn_x"]), a["lrn_g"]),
        "dropout(0.5) fwd+bwd": step(lambda: drop(x["do_x"]), a["do_g"]),
        "cross_entropy (256,1000)": step(lambda: F.cross_entropy(x["ce_x"], t["ce_t"])),
        "cross_entropy seg ignore": step(
            lambda: F.cross_entropy(x["seg_x"], t["seg_t"], ignore_index=255)),
        "mse_loss SRCNN": step(lambda: F.mse_loss(x["sr_x"], t["sr_y"])),
        "smooth_l1 boxes": step(lambda: F.smooth_l1_loss(x["box_x"], t["box_y"])),
    }


def _theirs(torch, a):
    tnn, TF = torch.nn, torch.nn.functional

    def leaf(k):
        return torch.tensor(a[k], requires_grad=True)

    fc = tnn.Linear(4096, 1000)
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(a["fc_w"]))
        fc.bias.copy_(torch.from_numpy(a["fc_b"]))
    bn = tnn.BatchNorm2d(64)
    lrn = tnn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    drop = tnn.Dropout(0.5)
    x = {k: leaf(k) for k in ("fc_x", "bn_x", "lrn_x", "do_x", "ce_x", "seg_x", "sr_x",
                              "box_x")}
    t = {k: torch.from_numpy(a[k]) for k in ("ce_t", "seg_t", "sr_y", "box_y")}
    g = {k: torch.from_numpy(a[k]) for k in ("fc_g", "bn_g", "lrn_g", "do_g")}

    def step(make, grad=None):
        def run():
            out = make()
            out.backward(grad) if grad is not None else out.backward()
        return run

    return {
        "linear fc8 fwd+bwd": step(lambda: fc(x["fc_x"]), g["fc_g"]),
        "batch_norm2d train fwd+bwd": step(lambda: bn(x["bn_x"]), g["bn_g"]),
        "lrn(5) fwd+bwd": step(lambda: lrn(x["lrn_x"]), g["lrn_g"]),
        "dropout(0.5) fwd+bwd": step(lambda: drop(x["do_x"]), g["do_g"]),
        "cross_entropy (256,1000)": step(lambda: TF.cross_entropy(x["ce_x"], t["ce_t"])),
        "cross_entropy seg ignore": step(
            lambda: TF.cross_entropy(x["seg_x"], t["seg_t"], ignore_index=255)),
        "mse_loss SRCNN": step(lambda: TF.mse_loss(x["sr_x"], t["sr_y"])),
        "smooth_l1 boxes": step(lambda: TF.smooth_l1_loss(x["box_x"], t["box_y"])),
    }


def _time(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch.set_num_threads (0 keeps torch's default)")
    args = parser.parse_args()
    a = _rng_arrays()
    ours = _ours(a)
    try:
        import torch
        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        theirs = _theirs(torch, a)
        peer = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        theirs, peer = {}, "none"
    # the GEMM ceiling: NumPy's own matmul of the fc8 shapes (forward + two backward GEMMs)
    gx, gw = a["fc_x"], a["fc_w"]
    gemm = lambda: (gx @ gw.T, a["fc_g"] @ gw, a["fc_g"].T @ gx)  # noqa: E731
    for fn in list(ours.values()) + list(theirs.values()) + [gemm]:
        fn()                                    # warm-up: caches, allocator, threads
    times = {name: {"ours": [], "peer": []} for name in ours}
    gemm_times = []
    for _ in range(args.repeats):
        for name in ours:
            times[name]["ours"].append(_time(ours[name]))
            if name in theirs:
                times[name]["peer"].append(_time(theirs[name]))
        gemm_times.append(_time(gemm))

    flops = 3 * 2 * 256 * 4096 * 1000
    rows = []
    print(f"peer: {peer}; medians of {args.repeats} interleaved rounds, float32")
    print(f"{'workload':30s} {'ours ms':>9s} {'peer ms':>9s} {'ours/peer':>9s}")
    for name, t in times.items():
        o = statistics.median(t["ours"])
        p = statistics.median(t["peer"]) if t["peer"] else float("nan")
        rows.append({"workload": name, "ours_ms": o, "peer_ms": p, "ratio": o / p})
        print(f"{name:30s} {o:9.2f} {p:9.2f} {o / p:9.2f}")
    g = statistics.median(gemm_times)
    lin = times["linear fc8 fwd+bwd"]["ours"]
    print(f"\nlinear fc8: {flops / statistics.median(lin) / 1e6:.1f} GFLOP/s ours; NumPy's own "
          f"three GEMMs {flops / g / 1e6:.1f} GFLOP/s ({g:.2f} ms)")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "nn.json"), "w") as f:
        json.dump({"peer": peer, "repeats": args.repeats, "rows": rows,
                   "numpy_gemm_ms": g, "linear_gflops": flops / statistics.median(lin) / 1e6},
                  f, indent=2)


if __name__ == "__main__":
    main()
