"""One optimizer step over a small CNN's parameters (about 2.5M float32), ours vs PyTorch.

    python benchmarks/bench_optim.py [--repeats 30]

An optimizer step is elementwise work over every parameter, so it is bound by memory traffic,
not arithmetic. Each rule runs in one process with PyTorch's single-tensor loop
(foreach=False) and its multi-tensor one (foreach=True), interleaved, on one thread; the
median of the repeats is reported with the ratio ours / PyTorch. The physical limit is the
least traffic a rule needs (e.g. Adam reads p, g, m, v and writes p, m, v: 7 arrays) at the
machine's copy bandwidth, measured here with np.copyto over the same arrays.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from scratchnet import optim
from scratchnet.autograd.tensor import Tensor
from scratchnet.nn.parameter import Parameter

# conv1..3 of a VGG-style net on 32x32 inputs, then two fully connected layers
SHAPES = [(64, 3, 3, 3), (64,), (128, 64, 3, 3), (128,), (256, 128, 3, 3), (256,),
          (512, 4096), (512,), (10, 512), (10,)]

# name, class, kwargs, arrays read + written per element at the least
RULES = [
    ("SGD", "SGD", {"lr": 0.01}, 3),
    ("SGD momentum", "SGD", {"lr": 0.01, "momentum": 0.9}, 5),
    ("SGD nesterov+wd", "SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True,
                                "weight_decay": 5e-4}, 5),
    ("Adam", "Adam", {"lr": 1e-3}, 7),
    ("AdamW amsgrad", "AdamW", {"lr": 1e-3, "amsgrad": True}, 9),
    ("RMSprop centered", "RMSprop", {"lr": 1e-3, "centered": True}, 7),
    ("Adagrad", "Adagrad", {"lr": 1e-2}, 5),
    ("Adadelta", "Adadelta", {}, 7),
]


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    starts = [(0.05 * rng.standard_normal(s)).astype(np.float32) for s in SHAPES]
    grads = [(0.01 * rng.standard_normal(s)).astype(np.float32) for s in SHAPES]
    n_params = sum(a.size for a in starts)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None

    dst = [np.empty_like(a) for a in starts]
    copy_s = statistics.median(timed(lambda: [np.copyto(d, a) for d, a in zip(dst, starts)])
                               for _ in range(args.repeats))
    bandwidth = 2 * 4 * n_params / copy_s      # bytes read + written per second

    print(f"one step over {n_params / 1e6:.2f}M float32 parameters in {len(SHAPES)} tensors, "
          f"median of {args.repeats}; copy bandwidth {bandwidth / 1e9:.1f} GB/s")
    header = f"{'rule':<18}{'ours ms':>9}{'limit ms':>10}"
    if torch:
        header += f"{'torch ms':>10}{'foreach ms':>12}{'ours/torch':>12}{'ours/foreach':>14}"
    print(header)
    results = {"n_params": n_params, "copy_GBps": bandwidth / 1e9, "rules": {}}
    for label, cls, kwargs, arrays in RULES:
        ps = [Parameter(a.copy()) for a in starts]
        for p, g in zip(ps, grads):
            p.grad = Tensor(g.copy())
        ours = getattr(optim, cls)(ps, **kwargs)
        runners = {"ours": ours.step}
        if torch:
            for tag, foreach in (("torch", False), ("foreach", True)):
                tps = [torch.tensor(a.copy(), requires_grad=True) for a in starts]
                for p, g in zip(tps, grads):
                    p.grad = torch.from_numpy(g.copy())
                runners[tag] = getattr(torch.optim, cls)(tps, foreach=foreach, **kwargs).step
        times = {k: [] for k in runners}
        for fn in runners.values():      # first steps allocate the state
            fn()
        for _ in range(args.repeats):
            for k, fn in runners.items():
                times[k].append(timed(fn))
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        limit = arrays * 4 * n_params / bandwidth * 1e3
        row = {"ours_ms": med["ours"], "limit_ms": limit}
        line = f"{label:<18}{med['ours']:>9.2f}{limit:>10.2f}"
        if torch:
            row.update(torch_ms=med["torch"], foreach_ms=med["foreach"],
                       ratio_torch=med["ours"] / med["torch"],
                       ratio_foreach=med["ours"] / med["foreach"])
            line += (f"{med['torch']:>10.2f}{med['foreach']:>12.2f}"
                     f"{row['ratio_torch']:>12.2f}{row['ratio_foreach']:>14.2f}")
        print(line)
        results["rules"][label] = row
    if torch:
        results["torch_version"] = torch.__version__
    out = os.path.join(os.path.dirname(__file__), "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "optim.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
