"""One optimizer step over a small CNN's parameters (about 2.5M float32), ours vs PyTorch.

    python benchmarks/bench_optim.py [--rounds 5] [--repeats 30]

An optimizer step is elementwise work over every parameter, so it is bound by memory traffic,
not arithmetic. PyTorch runs its single-tensor loop (foreach=False) and its multi-tensor one
(foreach=True, the "torch-foreach" side); each side in its own processes
(benchmarks/harness.py). The physical limit is the least traffic a rule needs (e.g. Adam
reads p, g, m, v and writes p, m, v: 7 arrays) at the machine's copy bandwidth, measured by
the numpy side with np.copyto over the same arrays.
"""
from __future__ import annotations

import numpy as np

import harness

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


COPY = "copy of every parameter (bandwidth)"


def arrays():
    rng = np.random.default_rng(0)
    starts = [(0.05 * rng.standard_normal(s)).astype(np.float32) for s in SHAPES]
    grads = [(0.01 * rng.standard_normal(s)).astype(np.float32) for s in SHAPES]
    return starts, grads


def ours(args):
    from scratchnet import optim
    from scratchnet.autograd.tensor import Tensor
    from scratchnet.nn.parameter import Parameter
    starts, grads = arrays()
    work = {}
    for label, cls, kwargs, _ in RULES:
        ps = [Parameter(a.copy()) for a in starts]
        for p, g in zip(ps, grads):
            p.grad = Tensor(g.copy())
        work[label] = getattr(optim, cls)(ps, **kwargs).step
    return work


def torch_rules(foreach):
    def build(args):
        import torch
        starts, grads = arrays()
        work = {}
        for label, cls, kwargs, _ in RULES:
            tps = [torch.tensor(a.copy(), requires_grad=True) for a in starts]
            for p, g in zip(tps, grads):
                p.grad = torch.from_numpy(g.copy())
            work[label] = getattr(torch.optim, cls)(tps, foreach=foreach, **kwargs).step
        return work
    return build


def numpy_side(args):
    starts, _ = arrays()
    dst = [np.empty_like(a) for a in starts]
    return {COPY: lambda: [np.copyto(d, a) for d, a in zip(dst, starts)]}


def report(result, args):
    n_params = sum(int(np.prod(s)) for s in SHAPES)
    copy = result["cases"].pop(COPY, {}).get("numpy")
    if not copy:
        return {"n_params": n_params}
    bandwidth = 2 * 4 * n_params / copy["median"]
    print(f"{n_params / 1e6:.2f}M float32 parameters; copy bandwidth {bandwidth / 1e9:.1f} GB/s; "
          "least time each rule's traffic needs:")
    limits = {}
    for label, _, _, traffic in RULES:
        limits[label] = traffic * 4 * n_params / bandwidth
        ours_s = result["cases"][label]["scratchnet"]["median"]
        print(f"  {label:<18} limit {limits[label] * 1e3:6.2f} ms, ours {ours_s * 1e3:6.2f} ms")
    return {"n_params": n_params, "copy_GBps": bandwidth / 1e9, "limit_s": limits}


if __name__ == "__main__":
    harness.main(__file__, {"scratchnet": ours, "torch": torch_rules(False),
                            "torch-foreach": torch_rules(True), "numpy": numpy_side},
                 name="optim", description=__doc__.splitlines()[0], rounds=5, repeats=30,
                 report=report)
