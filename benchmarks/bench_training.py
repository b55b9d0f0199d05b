"""Training speed: a LeNet-5 step against PyTorch, the ConvNetJS demo net per example, and the
default `scratchnet train lenet5` run end to end.

    python benchmarks/bench_training.py [--repeats 20] [--skip-run]

1. One LeNet-5 training step (batch 64, 32x32, Adam): ours and the same model in torch.nn,
   one process, interleaved, median; ratio ours/PyTorch (goal <= 1.5x). Peak memory of our
   step (tracemalloc: NumPy allocations).
2. The ConvNetJS CIFAR-10 demo network (deck 002) on 32x32x3: forward and backward time per
   example at batch 32; the browser demo reported 8 ms forward / 16 ms backward per example
   (goal: at least 40x faster).
3. `scratchnet train lenet5` with its defaults: wall time and test accuracy (goal: >= 97% in
   under 60 s).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import tracemalloc

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import models, optim


def torch_lenet(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
        nn.AvgPool2d(2), nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(), nn.Linear(120, 84),
        nn.Tanh(), nn.Linear(84, 10))


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def lenet_step(repeats, result):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    model = models.lenet5()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = sn.tensor(x), sn.tensor(y)

    def ours():
        opt.zero_grad()
        F.cross_entropy(model(xs), ys).backward()
        opt.step()

    try:
        import torch
        tm = torch_lenet(torch)
        topt = torch.optim.Adam(tm.parameters(), lr=1e-3)
        xt, yt = torch.tensor(x), torch.tensor(y)

        def theirs():
            topt.zero_grad()
            torch.nn.functional.cross_entropy(tm(xt), yt).backward()
            topt.step()
    except ImportError:
        torch, theirs = None, None

    for _ in range(3):
        ours()
        if theirs:
            theirs()
    o_times, t_times = [], []
    for _ in range(repeats):
        o_times.append(median_time(ours, 1))
        if theirs:
            t_times.append(median_time(theirs, 1))
    o = statistics.median(o_times)
    tracemalloc.start()
    ours()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    result["lenet_step_ms"] = o * 1e3
    result["lenet_step_peak_mib"] = peak / 2**20
    print(f"LeNet-5 training step, batch 64: scratchnet {o * 1e3:.2f} ms "
          f"(peak NumPy memory {peak / 2**20:.1f} MiB)")
    if theirs:
        t = statistics.median(t_times)
        result.update(lenet_step_torch_ms=t * 1e3, lenet_step_ratio=o / t,
                      torch_threads=torch.get_num_threads())
        print(f"  PyTorch {t * 1e3:.2f} ms ({torch.get_num_threads()} threads); ratio "
              f"ours/PyTorch {o / t:.2f}x (goal <= 1.5x)")


def convnetjs(repeats, result):
    model = models.convnetjs_cifar10()
    x = sn.randn(32, 3, 32, 32)
    y = sn.tensor(np.random.default_rng(1).integers(0, 10, 32))
    with sn.no_grad():
        model(x)
    fwd = median_time(lambda: model(x), repeats)

    def both():
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()

    both()
    total = median_time(both, repeats)
    f_ex, b_ex = fwd / 32 * 1e3, max(total - fwd, 0) / 32 * 1e3
    result.update(convnetjs_forward_ms_per_example=f_ex, convnetjs_backward_ms_per_example=b_ex,
                  convnetjs_speedup_forward=8 / f_ex, convnetjs_speedup_backward=16 / b_ex)
    print(f"ConvNetJS CIFAR-10 net, per example (batch 32): forward {f_ex:.3f} ms "
          f"({8 / f_ex:.0f}x the demo's 8 ms), backward {b_ex:.3f} ms "
          f"({16 / b_ex:.0f}x the demo's 16 ms); goal >= 40x")


def default_run(result):
    import tempfile

    from scratchnet.recipes import train
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        _, history, test = train(out=out, progress=False, log=None)
        wall = time.perf_counter() - t
    result.update(train_lenet5_seconds=wall, train_lenet5_test_accuracy=test.accuracy,
                  train_lenet5_epochs=len(history))
    print(f"scratchnet train lenet5 (defaults): test accuracy {test.accuracy:.2%} in "
          f"{wall:.1f} s wall, data loading and evaluation included (goal >= 97% in < 60 s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--skip-run", action="store_true", help="skip the full training run")
    args = ap.parse_args()
    result = {}
    lenet_step(args.repeats, result)
    convnetjs(args.repeats, result)
    if not args.skip_run:
        default_run(result)
    out = os.path.join(os.path.dirname(__file__), "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "training.json"), "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
