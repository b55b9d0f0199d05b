"""Segmentation speed: an FCN-8s training step and FCN's bilinear upsamplings, ours vs
PyTorch, each library in its own processes (benchmarks/harness.py).

    python benchmarks/bench_segmentation.py [--rounds 5] [--repeats 5]

1. One FCN-8s (width 1/4, 11 classes) training step on a (8, 3, 64, 64) batch: forward,
   pixelwise cross-entropy, backward, SGD with momentum; PyTorch runs the twin of
   tests/torch_twins.py. Goal: at most 1.5x PyTorch's time (ratio >= 0.67).
2. The transposed convolutions that upsample FCN's score maps (21 classes, bilinear weights,
   forward + backward): k=4 s=2 on a 16x16 map, k=16 s=8 on 8x8, k=64 s=32 on 4x4, batch 8.
   Goal: at least PyTorch's speed.
"""
from __future__ import annotations

import os
import sys

import numpy as np

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UPSAMPLINGS = {"upsample k4 s2, 16x16": (4, 2, 16), "upsample k16 s8, 8x8": (16, 8, 8),
               "upsample k64 s32, 4x4": (64, 32, 4)}
STEP = "fcn8s width 1/4 train step (8, 3, 64, 64)"


def batch():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((8, 3, 64, 64)).astype(np.float32),
            rng.integers(0, 11, (8, 64, 64)))


def bilinear_weight(k, channels=21):
    f, centre = (k + 1) // 2, (k - 1) / 2
    taps = 1 - np.abs(np.arange(k) - centre) / f
    w = np.zeros((channels, channels, k, k), np.float32)
    w[np.arange(channels), np.arange(channels)] = np.outer(taps, taps)
    return w


def upsampling_work(F, tensor):
    work = {}
    for case, (k, s, size) in UPSAMPLINGS.items():
        rng = np.random.default_rng(k)
        x = tensor(rng.standard_normal((8, 21, size, size)).astype(np.float32), True)
        w = tensor(bilinear_weight(k), True)
        g = tensor(rng.standard_normal((8, 21, (size - 1) * s + k, (size - 1) * s + k))
                   .astype(np.float32), False)

        def run(x=x, w=w, g=g, s=s):
            x.grad = w.grad = None
            F.conv_transpose2d(x, w, stride=s).backward(g)
        work[case] = run
    return work


def step(model, opt, loss, x, y):
    def run():
        opt.zero_grad()
        loss(model(x), y).backward()
        opt.step()
    return run


def ours(args):
    import scratchnet as sn
    from scratchnet.models.segmentation import fcn8s
    model = fcn8s(num_classes=11, width=0.25).train()
    x, y = batch()
    opt = sn.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3,
                       momentum=0.9)
    work = {STEP: step(model, opt, sn.nn.functional.cross_entropy, sn.tensor(x),
                       sn.tensor(y))}
    work.update(upsampling_work(sn.nn.functional,
                                lambda a, g: sn.tensor(a, requires_grad=g)))
    return work


def torch_side(args):
    import torch
    sys.path.insert(0, ROOT)
    from tests.torch_twins import fcn8s
    model = fcn8s(0.25, 11).train()
    model.upscore.weight.requires_grad_(False)
    x, y = batch()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3,
                          momentum=0.9)
    work = {STEP: step(model, opt, torch.nn.functional.cross_entropy, torch.from_numpy(x),
                       torch.from_numpy(y))}
    work.update(upsampling_work(torch.nn.functional,
                                lambda a, g: torch.from_numpy(a).requires_grad_(g)))
    return work


def report(result, args):
    for case, ratio in harness.ratios(result, "torch").items():
        goal = "goal >= 0.67 (at most 1.5x PyTorch's time)" if case == STEP else "goal >= 1"
        print(f"{case}: {ratio:.2f} of PyTorch's speed ({goal})")
    return {}


if __name__ == "__main__":
    harness.main(__file__, {"scratchnet": ours, "torch": torch_side}, name="segmentation",
                 description=__doc__.splitlines()[0], rounds=5, repeats=5, report=report)
