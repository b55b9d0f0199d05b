"""Super-resolution speed: bicubic interpolate against PyTorch, and the FSRCNN table's four
models producing the same high-resolution image, every side in its own process.

    python benchmarks/bench_sr.py [--rounds 5] [--calls 5] [--threads 2] [--only bicubic|models]

1. `F.interpolate(mode='bicubic')` forward + backward (x3 on (8, 16, 64, 64) float32, and x2
   on (8, 64, 56, 56)), ours vs PyTorch CPU: a fresh process per side and round, the two
   sides alternating, `calls` timed calls after one warm-up call in each process; the median
   over rounds of each process's median, and ours/PyTorch. Goal: ratio <= 1.
2. SRCNN-Ex, Transition State 1, Transition State 2 and FSRCNN (56, 12, 4) making the same
   HR image (one 1 x 264 x 264 Y image at x3: SRCNN-Ex on the 264 x 264 bicubic upscaling,
   the others on the 88 x 88 LR image), forward without a graph, one process per model and
   round, alternating; the speed-up over SRCNN-Ex next to the table's 1x / 8.7x / 30.1x /
   41.3x, which are the ratios of multiply-accumulates per HR pixel.

Every child gets the same thread count (BLAS, numba, torch); OMP_WAIT_POLICY=PASSIVE so idle
OpenMP threads do not spin. On a machine shared with other jobs the spread is wide: read the
medians as ratios, not as absolute speeds.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

BICUBIC = {"x3_8x16x64x64": ((8, 16, 64, 64), 3), "x2_8x64x56x56": ((8, 64, 56, 56), 2)}
MODELS = ["srcnn_ex", "transition1", "transition2", "fsrcnn"]
TABLE = {"srcnn_ex": 1.0, "transition1": 8.7, "transition2": 30.1, "fsrcnn": 41.3}

CHILD = r"""
import json, statistics, sys, time
import numpy as np
side, case, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
times = []
if case in BICUBIC:
    shape, s = BICUBIC[case]
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape[:2] + (shape[2] * s, shape[3] * s)).astype(np.float32)
    if side == "torch":
        import torch
        torch.set_num_threads(THREADS)
        tx = torch.from_numpy(x).requires_grad_()
        tg = torch.from_numpy(g)
        def run():
            tx.grad = None
            torch.nn.functional.interpolate(tx, scale_factor=s, mode="bicubic",
                                            align_corners=False).backward(tg)
    else:
        import scratchnet as sn
        import scratchnet.nn.functional as F
        sx = sn.tensor(x, requires_grad=True)
        sg = sn.tensor(g)
        def run():
            sx.grad = None
            F.interpolate(sx, scale_factor=s, mode="bicubic", align_corners=False).backward(sg)
else:
    import scratchnet as sn
    from scratchnet.models import sr
    make = {"srcnn_ex": lambda: sr.srcnn(9, 5, 5), "transition1": sr.fsrcnn_transition1,
            "transition2": sr.fsrcnn_transition2, "fsrcnn": sr.fsrcnn}[case]
    model = make().eval()
    size = 264 if case == "srcnn_ex" else 88
    x = sn.tensor(rng.random((1, 1, size, size)).astype(np.float32))
    def run():
        with sn.no_grad():
            out = model(x)
        assert out.shape == (1, 1, 264, 264)
run()
for _ in range(calls):
    t0 = time.perf_counter()
    run()
    times.append(time.perf_counter() - t0)
print(json.dumps(statistics.median(times)))
"""


def child(side, case, calls, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    code = f"BICUBIC = {BICUBIC!r}\nTHREADS = {threads}\n" + CHILD
    out = subprocess.run([sys.executable, "-c", code, side, case, str(calls)], env=env,
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{side} {case} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(v):
    return f"{1e3 * min(v):.1f}-{1e3 * max(v):.1f}"


def bench_bicubic(rounds, calls, threads, torch_ok):
    print(f"\nbicubic interpolate forward + backward, ms (median of {rounds} processes per "
          f"side, each the median of {calls} calls; range in brackets)")
    rows = []
    for case in BICUBIC:
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(child("ours", case, calls, threads))
            if torch_ok:
                theirs.append(child("torch", case, calls, threads))
        o = statistics.median(ours)
        t = statistics.median(theirs) if theirs else float("nan")
        rows.append({"case": case, "ours_ms": 1e3 * o, "torch_ms": 1e3 * t, "ratio": o / t})
        print(f"  {case:16} ours {1e3 * o:8.1f} ({spread(ours)})   torch {1e3 * t:8.1f} "
              f"({spread(theirs) if theirs else '-'})   ours/torch {o / t:.2f}")
    return rows


def bench_models(rounds, calls, threads):
    from scratchnet.models import sr
    makers = {"srcnn_ex": lambda: sr.srcnn(9, 5, 5), "transition1": sr.fsrcnn_transition1,
              "transition2": sr.fsrcnn_transition2, "fsrcnn": sr.fsrcnn}
    times = {m: [] for m in MODELS}
    for _ in range(rounds):
        for m in MODELS:
            times[m].append(child("ours", m, calls, threads))
    med = {m: statistics.median(v) for m, v in times.items()}
    print(f"\nthe FSRCNN table's models making one 264 x 264 image at x3, forward, ms "
          f"(median of {rounds} processes, each the median of {calls} calls)")
    print(f"  {'model':12}{'ms':>9}{'range':>16}{'measured':>10}{'MACs':>8}{'table':>8}")
    rows = []
    for m in MODELS:
        macs = sr.macs_per_hr_pixel(makers[m](), 3)
        mac_ratio = 57184 / macs
        rows.append({"model": m, "ms": 1e3 * med[m], "speedup": med["srcnn_ex"] / med[m],
                     "mac_speedup": mac_ratio, "table": TABLE[m]})
        print(f"  {m:12}{1e3 * med[m]:9.1f}{spread(times[m]):>16}"
              f"{med['srcnn_ex'] / med[m]:9.1f}x{mac_ratio:7.1f}x{TABLE[m]:7.1f}x")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["bicubic", "models"])
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
        torch_ok = True
    except ImportError:
        torch_ok = False
    sys.path.insert(0, ROOT)
    print(f"threads per process: {args.threads}")
    result = {}
    if args.only in (None, "bicubic"):
        result["bicubic"] = bench_bicubic(args.rounds, args.calls, args.threads, torch_ok)
    if args.only in (None, "models"):
        result["models"] = bench_models(args.rounds, args.calls, args.threads)
    return result


if __name__ == "__main__":
    main()
