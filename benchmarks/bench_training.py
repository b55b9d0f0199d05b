"""Training speed: a LeNet-5 step against PyTorch, the ConvNetJS demo net per example, and the
default `scratchnet train lenet5` run end to end.

    python benchmarks/bench_training.py [--rounds 5] [--repeats 20] [--skip-run]

1. One LeNet-5 training step (batch 64, 32x32, Adam): ours and the same model in torch.nn,
   each library in its own processes (benchmarks/harness.py); goal: at least 1.2x PyTorch's
   speed.
2. The ConvNetJS CIFAR-10 demo network (deck 002) on 32x32x3: forward and backward time per
   example at batch 32 (ours alone); the browser demo reported 8 ms forward / 16 ms backward
   per example (goal: at least 40x faster). Peak NumPy memory of our LeNet-5 step.
3. `scratchnet train lenet5` with its defaults: wall time and test accuracy (goal: >= 97% in
   under 60 s).
"""
from __future__ import annotations

import statistics
import time
import tracemalloc

import numpy as np

import harness


def torch_lenet(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
        nn.AvgPool2d(2), nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(), nn.Linear(120, 84),
        nn.Tanh(), nn.Linear(84, 10))


def lenet_batch():
    rng = np.random.default_rng(0)
    return rng.standard_normal((64, 1, 32, 32)).astype(np.float32), rng.integers(0, 10, 64)


def step(model, opt, loss, x, y):
    def run():
        opt.zero_grad()
        loss(model(x), y).backward()
        opt.step()
    return run


def ours(args):
    import scratchnet as sn
    from scratchnet import models
    x, y = lenet_batch()
    model = models.lenet5()
    opt = sn.optim.Adam(model.parameters(), lr=1e-3)
    return {"lenet5 train step b64": step(model, opt, sn.nn.functional.cross_entropy,
                                          sn.tensor(x), sn.tensor(y))}


def torch_side(args):
    import torch
    x, y = lenet_batch()
    model = torch_lenet(torch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return {"lenet5 train step b64": step(model, opt, torch.nn.functional.cross_entropy,
                                          torch.from_numpy(x), torch.from_numpy(y))}


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def lenet_memory(result):
    import scratchnet as sn
    run = ours(None)["lenet5 train step b64"]
    run()
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    result["lenet_step_peak_numpy_mib"] = peak / 2**20
    print(f"LeNet-5 training step, batch 64 (scratchnet {sn.__version__}): peak NumPy "
          f"memory {peak / 2**20:.1f} MiB")


def convnetjs(repeats, result):
    import scratchnet as sn
    import scratchnet.nn.functional as F
    from scratchnet import models
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


def arguments(ap):
    ap.add_argument("--skip-run", action="store_true", help="skip the full training run")


def report(result, args):
    for case, ratio in harness.ratios(result, "torch").items():
        print(f"{case}: scratchnet runs at {ratio:.2f} of PyTorch's speed (goal >= 1.2)")
    extra = {}
    lenet_memory(extra)
    convnetjs(args.repeats, extra)
    if not args.skip_run:
        default_run(extra)
    return extra


if __name__ == "__main__":
    harness.main(__file__, {"scratchnet": ours, "torch": torch_side}, name="training",
                 description=__doc__.splitlines()[0], add_arguments=arguments, rounds=5,
                 repeats=20, report=report)
