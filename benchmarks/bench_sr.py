"""Super-resolution speed: bicubic interpolate against PyTorch, and the FSRCNN table's four
models producing the same high-resolution image.

    python benchmarks/bench_sr.py [--rounds 5] [--repeats 5] [--threads 2]

1. `F.interpolate(mode='bicubic')` forward + backward (x3 on (8, 16, 64, 64) float32, and x2
   on (8, 64, 56, 56)), ours vs PyTorch CPU, each in its own processes
   (benchmarks/harness.py: alternating rounds, medians, the same thread count). Goal: at
   least PyTorch's speed.
2. SRCNN-Ex, Transition State 1, Transition State 2 and FSRCNN (56, 12, 4) making the same
   HR image (one 1 x 264 x 264 Y image at x3: SRCNN-Ex on the 264 x 264 bicubic upscaling,
   the others on the 88 x 88 LR image), forward without a graph, in the scratchnet worker;
   the speed-up over SRCNN-Ex next to the table's 1x / 8.7x / 30.1x / 41.3x, which are the
   ratios of multiply-accumulates per HR pixel.
"""
from __future__ import annotations

import numpy as np

import harness

BICUBIC = {"bicubic x3 (8, 16, 64, 64)": ((8, 16, 64, 64), 3),
           "bicubic x2 (8, 64, 56, 56)": ((8, 64, 56, 56), 2)}
MODELS = ["srcnn_ex", "transition1", "transition2", "fsrcnn"]
TABLE = {"srcnn_ex": 1.0, "transition1": 8.7, "transition2": 30.1, "fsrcnn": 41.3}


def bicubic_work(interpolate, tensor):
    work = {}
    for case, (shape, s) in BICUBIC.items():
        rng = np.random.default_rng(0)
        x = tensor(rng.standard_normal(shape).astype(np.float32), True)
        g = tensor(rng.standard_normal(shape[:2] + (shape[2] * s, shape[3] * s))
                   .astype(np.float32), False)

        def run(x=x, g=g, s=s):
            x.grad = None
            interpolate(x, scale_factor=s, mode="bicubic", align_corners=False).backward(g)
        work[case] = run
    return work


def makers():
    from scratchnet.models import sr
    return {"srcnn_ex": lambda: sr.srcnn(9, 5, 5), "transition1": sr.fsrcnn_transition1,
            "transition2": sr.fsrcnn_transition2, "fsrcnn": sr.fsrcnn}


def ours(args):
    import scratchnet as sn
    work = bicubic_work(sn.nn.functional.interpolate,
                        lambda a, g: sn.tensor(a, requires_grad=g))
    rng = np.random.default_rng(0)
    for name, make in makers().items():
        model = make().eval()
        size = 264 if name == "srcnn_ex" else 88
        x = sn.tensor(rng.random((1, 1, size, size)).astype(np.float32))

        def run(model=model, x=x):
            with sn.no_grad():
                out = model(x)
            assert out.shape == (1, 1, 264, 264)
        work[f"model {name}"] = run
    return work


def torch_side(args):
    import torch
    return bicubic_work(torch.nn.functional.interpolate,
                        lambda a, g: torch.from_numpy(a).requires_grad_(g))


def report(result, args):
    from scratchnet.models import sr
    for case, ratio in harness.ratios(result, "torch").items():
        print(f"{case}: {ratio:.2f} of PyTorch's speed (goal >= 1)")
    cases = result["cases"]
    base = cases["model srcnn_ex"]["scratchnet"]["median"]
    print("\nthe FSRCNN table's models making one 264 x 264 image at x3, forward")
    print(f"  {'model':12}{'ms':>9}{'measured':>10}{'MACs':>8}{'table':>8}")
    rows = []
    for m in MODELS:
        t = cases[f"model {m}"]["scratchnet"]["median"]
        mac_ratio = 57184 / sr.macs_per_hr_pixel(makers()[m](), 3)
        rows.append({"model": m, "ms": 1e3 * t, "speedup": base / t, "mac_speedup": mac_ratio,
                     "table": TABLE[m]})
        print(f"  {m:12}{1e3 * t:9.1f}{base / t:9.1f}x{mac_ratio:7.1f}x{TABLE[m]:7.1f}x")
    return {"models": rows}


if __name__ == "__main__":
    harness.main(__file__, {"scratchnet": ours, "torch": torch_side}, name="sr",
                 description=__doc__.splitlines()[0], rounds=5, repeats=5, report=report)
