"""Whole models, ours vs PyTorch: forward throughput, a training step, and VGG-16's memory.

    python benchmarks/bench_models.py [--repeats 7] [--skip-memory]

1. Forward (eval, no_grad), 224x224, batch 8: resnet18 and vgg11, in images/s.
2. One training step of resnet18 at 64x64, batch 32: forward, cross-entropy, backward, SGD
   with momentum.
3. Peak memory of a VGG-16 forward at 224x224, batch 1, under no_grad, in a fresh process:
   the peak resident set during the forward (weights included; goal: under 2 GiB), and the
   peak of NumPy's own allocations from tracemalloc, which shows whether im2col buffers
   outlive their layer.

Ours and PyTorch (the twin from tests/torch_twins.py, same weights) run in one process,
interleaved, after one warm-up call each; medians of the repeats. Goal for 1 and 2: at least
0.5x PyTorch's throughput (ratio ours/PyTorch time <= 2). Results go to
benchmarks/results/models.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import scratchnet as sn  # noqa: E402
import scratchnet.models as M  # noqa: E402


def _median_ms(samples):
    return statistics.median(samples) * 1e3


def _interleave(repeats, ours, theirs):
    ours()
    if theirs:
        theirs()
    a, b = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours()
        a.append(time.perf_counter() - t0)
        if theirs:
            t0 = time.perf_counter()
            theirs()
            b.append(time.perf_counter() - t0)
    return _median_ms(a), (_median_ms(b) if b else None)


def _pair(name, torch, num_classes=1000):
    kwargs = {"init_weights": False} if name.startswith("vgg") else {}
    ours = getattr(M, name)(num_classes=num_classes, **kwargs)
    twin = None
    if torch is not None:
        from tests import torch_twins
        twin = torch_twins.build(name, num_classes)
        ours.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()})
    return ours, twin


def bench_forward(name, torch, batch, size, repeats):
    ours, twin = _pair(name, torch)
    ours.eval()
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)
    xs = sn.tensor(x)

    def run_ours():
        with sn.no_grad():
            ours(xs)

    run_theirs = None
    if twin is not None:
        twin.eval()
        xt = torch.from_numpy(x)

        def run_theirs():
            with torch.no_grad():
                twin(xt)

    return _interleave(repeats, run_ours, run_theirs)


def bench_train_step(name, torch, batch, size, repeats):
    ours, twin = _pair(name, torch, num_classes=10)
    ours.train()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    xs, ys = sn.tensor(x), sn.tensor(y)
    loss_fn = sn.nn.CrossEntropyLoss()
    opt = sn.optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)

    def run_ours():
        opt.zero_grad()
        loss_fn(ours(xs), ys).backward()
        opt.step()

    run_theirs = None
    if twin is not None:
        twin.train()
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        tloss = torch.nn.CrossEntropyLoss()
        topt = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9)

        def run_theirs():
            topt.zero_grad()
            tloss(twin(xt), yt).backward()
            topt.step()

    return _interleave(repeats, run_ours, run_theirs)


_MEMORY_PROBE = r"""
import json, sys, time, tracemalloc
sys.path.insert(0, {root!r})
import numpy as np
import scratchnet as sn
import scratchnet.models as M

def status_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")

def reset_peak():
    # Linux: writing 5 to clear_refs resets the peak resident set (VmHWM)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False

model = M.vgg16(init_weights=False).eval()
x = sn.tensor(np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32))
with sn.no_grad():
    model(x)                                  # compile and warm up
after_build = status_mib("VmRSS")
peak_with_build = status_mib("VmHWM")
reset = reset_peak()
tracemalloc.start()
t0 = time.perf_counter()
with sn.no_grad():
    y = model(x)
ms = (time.perf_counter() - t0) * 1e3
current, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps({{"peak_rss_forward_mib": status_mib("VmHWM") if reset else None,
                  "peak_rss_process_mib": peak_with_build,
                  "rss_after_build_mib": after_build,
                  "forward_peak_alloc_mib": peak / 2**20,
                  "forward_alloc_kept_mib": current / 2**20,
                  "forward_ms": ms, "output": list(y.shape)}}))
"""


def bench_vgg16_memory():
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE.format(root=ROOT)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    peer = f"torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else "none"
    print(f"scratchnet {sn.__version__} vs {peer}; median of {args.repeats}, interleaved")

    rows, results = [], {"peer": peer, "repeats": args.repeats, "cases": []}
    for name in ("resnet18", "vgg11"):
        rows.append((f"{name} forward 224x224, batch 8", 8,
                     *bench_forward(name, torch, 8, 224, args.repeats)))
    rows.append(("resnet18 train step 64x64, batch 32", 32,
                 *bench_train_step("resnet18", torch, 32, 64, args.repeats)))

    print(f"{'case':40s} {'ours ms':>9s} {'torch ms':>9s} {'ours img/s':>11s} "
          f"{'torch img/s':>12s} {'ours/torch':>10s}")
    for what, batch, ours_ms, torch_ms in rows:
        ratio = ours_ms / torch_ms if torch_ms else float("nan")
        print(f"{what:40s} {ours_ms:9.1f} {torch_ms or float('nan'):9.1f} "
              f"{batch / ours_ms * 1e3:11.1f} "
              f"{(batch / torch_ms * 1e3) if torch_ms else float('nan'):12.1f} {ratio:9.2f}x")
        results["cases"].append({"case": what, "batch": batch, "ours_ms": ours_ms,
                                 "torch_ms": torch_ms, "ratio_time": ratio,
                                 "throughput_vs_torch": 1 / ratio if torch_ms else None})
    print("goal: throughput >= 0.5x PyTorch, i.e. ours/torch time <= 2.0x")

    if not args.skip_memory:
        mem = bench_vgg16_memory()
        results["vgg16_memory"] = mem
        fwd = mem["peak_rss_forward_mib"]
        print(f"VGG-16 forward 224x224, batch 1, no_grad (fresh process, {mem['forward_ms']:.0f} "
              f"ms): peak RSS during the forward "
              f"{'n/a' if fwd is None else f'{fwd:.0f} MiB'} (goal < 2048 MiB), with the "
              f"weights alone {mem['rss_after_build_mib']:.0f} MiB, peak of the whole process "
              f"(construction included) {mem['peak_rss_process_mib']:.0f} MiB; NumPy "
              f"allocations in the forward: peak {mem['forward_peak_alloc_mib']:.0f} MiB, held "
              f"after it {mem['forward_alloc_kept_mib']:.1f} MiB")

    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "models.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
