"""Whole models, ours vs PyTorch: forward throughput, training steps, and memory.

    python benchmarks/bench_models.py [--rounds 5] [--repeats 5] [--skip-memory]

1. Forward (eval, no_grad), 224x224, batch 8: resnet18 and vgg11.
2. One ResNet-18 training step at 64x64, batch 16: forward, cross-entropy, backward, SGD with
   momentum (goal: at least 0.8 of PyTorch's speed).
3. Memory, each in a fresh process per library: the peak resident set of a ResNet-18
   training step at 224x224, batch 32 (goal: at most 1.5x PyTorch's), and of a VGG-16 forward
   at 224x224, batch 1, under no_grad (goal: under 2 GiB).

PyTorch runs the twins of tests/torch_twins.py (torchvision's architectures in torch.nn).
Each library runs in its own processes (benchmarks/harness.py). Results go to
benchmarks/results/models.json.
"""
from __future__ import annotations

import os
import sys

import numpy as np

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FORWARD = {"resnet18 forward 224 b8": ("resnet18", 8, 224),
           "vgg11 forward 224 b8": ("vgg11", 8, 224)}
TRAIN = {"resnet18 train step 64 b16": ("resnet18", 16, 64)}
MEMORY = {"resnet18 train step 224 b32": ("resnet18", 32, 224),
          "vgg16 forward 224 b1": ("vgg16", 1, 224)}


def wanted(args, table):
    return {k: v for k, v in table.items() if not args.cases or k in args.cases}


def batch(n, size, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 3, size, size)).astype(np.float32),
            rng.integers(0, 10, n))


def side(args, build, tensor, no_grad, nn, optim):
    work = {}
    for case, (name, n, size) in {**wanted(args, FORWARD), **wanted(args, MEMORY)}.items():
        if "forward" not in case:
            continue
        model = build(name, 1000).eval()
        x = tensor(batch(n, size)[0])

        def forward(model=model, x=x):
            with no_grad():
                model(x)
        work[case] = forward
    steps = {**wanted(args, TRAIN),
             **{k: v for k, v in wanted(args, MEMORY).items() if "train" in k}}
    for case, (name, n, size) in steps.items():
        model = build(name, 10).train()
        xa, ya = batch(n, size, seed=1)
        x, y = tensor(xa), tensor(ya)
        loss_fn = nn.CrossEntropyLoss()
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step(model=model, x=x, y=y, loss_fn=loss_fn, opt=opt):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        work[case] = step
    return work


def ours(args):
    import scratchnet as sn
    import scratchnet.models as M

    def build(name, classes):
        kwargs = {"init_weights": False} if name.startswith("vgg") else {}
        return getattr(M, name)(num_classes=classes, **kwargs)
    return side(args, build, sn.tensor, sn.no_grad, sn.nn, sn.optim)


def torch_side(args):
    import torch
    sys.path.insert(0, ROOT)
    from tests import torch_twins
    return side(args, torch_twins.build, torch.from_numpy, torch.no_grad, torch.nn,
                torch.optim)


def arguments(ap):
    ap.add_argument("--skip-memory", action="store_true")


def report(result, args):
    for case, ratio in harness.ratios(result, "torch").items():
        goal = " (goal >= 0.8)" if case in TRAIN else ""
        print(f"{case}: scratchnet runs at {ratio:.2f} of PyTorch's speed{goal}")
    if args.skip_memory or args.worker:
        return {}
    return {"memory": memory(args)}


def memory(args):
    """Peak RSS of one call of each MEMORY case, one fresh process per case and library."""
    import copy
    found = {}
    for case in MEMORY:
        one = copy.copy(args)
        one.cases, one.repeats, one.warmup, one.rounds = [case], 1, 1, 2
        result = harness.compare(os.path.abspath(__file__), SIDES, one, [])
        found[case] = result["peak_rss_mib"]
        peaks = ", ".join(f"{s} {m:.0f} MiB" for s, m in found[case].items())
        line = f"peak resident memory, {case}: {peaks}"
        if "torch" in found[case]:
            line += f" (ours / PyTorch {found[case]['scratchnet'] / found[case]['torch']:.2f})"
        print(line)
    print("goals: ResNet-18 step at most 1.5x PyTorch's peak; VGG-16 forward under 2048 MiB")
    return found


SIDES = {"scratchnet": ours, "torch": torch_side}

if __name__ == "__main__":
    harness.main(__file__, SIDES, name="models", description=__doc__.splitlines()[0],
                 add_arguments=arguments, rounds=5, repeats=5, report=report)
