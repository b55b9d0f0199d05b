"""RoI pool and RoI align speed: 300 boxes to 7x7 on a (1, 256, 50, 50) float32 conv5 map at
spatial_scale 1/16 (an 800x800 image), forward and backward.

    python benchmarks/bench_roi.py [--repeats 9] [--boxes 300] [--no-compile]

Ours runs through the public API (scratchnet.ops.roi_pool / roi_align, autograd included).
The peer is what one writes without a kernel: a Python loop over boxes that crops the map and
takes a NumPy max over all channels per bin (RoI pool; its backward finds the argmax per bin
and scatters with np.add.at), or gathers the bilinear samples of one box with NumPy fancy
indexing (RoI align; backward np.add.at). Goal: ours >= 20x faster. Ours records the argmax
in the forward only when the input requires grad (not in the timed forward; the forward under
the backward timing records it), and the raw kernel table times it with the argmax.
Both compute the same numbers (checked before timing). Workloads run in turn, round after
round, and the median per workload is reported.

A second table times each raw kernel built from the same source serially and with
parallel=True (prange loops in threads), the latter on one thread and on all: the evidence for
which build ships. A third times
importing scratchnet and the first forward + backward of both ops in a fresh process, with
an empty numba cache (cold: everything compiles) and with the cache that run left (warm).
Results go to benchmarks/results/roi.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import scratchnet as sn  # noqa: E402
from scratchnet.kernels import roi as K  # noqa: E402
from scratchnet.ops import roi_align, roi_pool  # noqa: E402

SCALE = 1 / 16
OUT = 7


def proposals(rng, k, image=800):
    """k boxes in image pixels, 32 to 400 pixels a side, mostly inside the image."""
    w = rng.uniform(32, 400, k)
    h = rng.uniform(32, 400, k)
    x1 = rng.uniform(-16, image - w + 16)
    y1 = rng.uniform(-16, image - h + 16)
    return np.stack([np.zeros(k), x1, y1, x1 + w, y1 + h], axis=1).astype(np.float32)


def c_round(v):
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def loop_pool_bins(start, end, pooled, limit):
    size = max(end - start + 1, 1)
    edges = []
    for p in range(pooled):
        lo = min(max(math.floor(p * size / pooled) + start, 0), limit)
        hi = min(max(math.ceil((p + 1) * size / pooled) + start, 0), limit)
        edges.append((lo, hi))
    return edges


def loop_roi_pool(x, rois, scale=SCALE, pooled=OUT):
    """Forward: for each box and bin, crop and take the NumPy max over the bin."""
    _, C, H, W = x.shape
    out = np.zeros((len(rois), C, pooled, pooled), x.dtype)
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        rows = loop_pool_bins(c_round(y1 * scale), c_round(y2 * scale), pooled, H)
        cols = loop_pool_bins(c_round(x1 * scale), c_round(x2 * scale), pooled, W)
        plane = x[int(b)]
        for ph, (h0, h1) in enumerate(rows):
            for pw, (w0, w1) in enumerate(cols):
                if h1 > h0 and w1 > w0:
                    out[k, :, ph, pw] = plane[:, h0:h1, w0:w1].max(axis=(1, 2))
    return out


def loop_roi_pool_backward(grad, x, rois, scale=SCALE, pooled=OUT):
    """Backward: for each box and bin, find the argmax in the crop and add the gradient
    there (the loop keeps no state from its forward)."""
    _, C, H, W = x.shape
    gx = np.zeros(x.shape, grad.dtype)
    channels = np.arange(C)
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        rows = loop_pool_bins(c_round(y1 * scale), c_round(y2 * scale), pooled, H)
        cols = loop_pool_bins(c_round(x1 * scale), c_round(x2 * scale), pooled, W)
        b = int(b)
        for ph, (h0, h1) in enumerate(rows):
            for pw, (w0, w1) in enumerate(cols):
                if h1 > h0 and w1 > w0:
                    i = x[b, :, h0:h1, w0:w1].reshape(C, -1).argmax(axis=1)
                    np.add.at(gx[b], (channels, h0 + i // (w1 - w0), w0 + i % (w1 - w0)),
                              grad[k, :, ph, pw])
    return gx


def loop_align_taps(lo, hi, scale, pooled, size):
    """Sample taps along one axis of one box (legacy alignment, adaptive sampling)."""
    start = lo * scale
    length = max(hi * scale - start, 1.0)
    grid = math.ceil(length / pooled)
    binsz = length / pooled
    pos = (start + np.arange(pooled)[:, None] * binsz
           + (np.arange(grid)[None, :] + 0.5) * binsz / grid).ravel()
    valid = (pos >= -1) & (pos <= size)
    pos = np.clip(pos, 0, None)
    low = np.minimum(pos.astype(np.int64), size - 1)
    high = np.minimum(low + 1, size - 1)
    pos = np.where(low >= size - 1, low, pos)
    lw = (pos - low) * valid
    return grid, low, high, (1 - (pos - low)) * valid, lw


def loop_roi_align(x, rois, scale=SCALE, pooled=OUT):
    _, C, H, W = x.shape
    out = np.zeros((len(rois), C, pooled, pooled), x.dtype)
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        gy, ylo, yhi, yh, yl = loop_align_taps(y1, y2, scale, pooled, H)
        gx, xlo, xhi, xh, xl = loop_align_taps(x1, x2, scale, pooled, W)
        p = x[int(b)]
        v = (yh[:, None] * (xh * p[:, ylo[:, None], xlo] + xl * p[:, ylo[:, None], xhi])
             + yl[:, None] * (xh * p[:, yhi[:, None], xlo] + xl * p[:, yhi[:, None], xhi]))
        out[k] = v.reshape(C, pooled, gy, pooled, gx).mean(axis=(2, 4))
    return out


def loop_roi_align_backward(grad, rois, shape, scale=SCALE, pooled=OUT):
    _, C, H, W = shape
    gx_all = np.zeros(shape, grad.dtype)
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        gy, ylo, yhi, yh, yl = loop_align_taps(y1, y2, scale, pooled, H)
        gx, xlo, xhi, xh, xl = loop_align_taps(x1, x2, scale, pooled, W)
        g = np.repeat(np.repeat(grad[k], gy, axis=1), gx, axis=2) / (gy * gx)
        target = gx_all[int(b)]
        for rows, wy in ((ylo, yh), (yhi, yl)):
            for cols, wx in ((xlo, xh), (xhi, xl)):
                np.add.at(target, (slice(None), rows[:, None], cols[None, :]),
                          g * (wy[:, None] * wx[None, :]))
    return gx_all


def interleaved(workloads, repeats):
    """{name: (median wall seconds, median CPU seconds of all threads)}; one warm-up call
    each, then `repeats` rounds in turn. A workload with a `prepare` attribute gets it
    called, untimed, before each timed call."""
    def once(fn):
        if hasattr(fn, "prepare"):
            fn.prepare()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - t0, time.process_time() - c0

    for fn in workloads.values():
        once(fn)
    times = {k: [] for k in workloads}
    for _ in range(repeats):
        for k, fn in workloads.items():
            times[k].append(once(fn))
    return {k: (statistics.median(t for t, _ in v), statistics.median(c for _, c in v))
            for k, v in times.items()}


def api_workloads(x, rois, g):
    xt = sn.tensor(x, requires_grad=True)
    boxes = sn.tensor(rois)
    gt = sn.tensor(g)

    def backward_only(op):
        graph = {}

        def prepare():
            xt.grad = None
            graph["out"] = op(xt, boxes, OUT, spatial_scale=SCALE)

        def run():
            graph["out"].backward(gt)
        run.prepare = prepare
        return run

    ours = {
        "roi_pool fwd": lambda: roi_pool(xt.detach(), boxes, OUT, spatial_scale=SCALE),
        "roi_pool bwd": backward_only(roi_pool),
        "roi_align fwd": lambda: roi_align(xt.detach(), boxes, OUT, spatial_scale=SCALE),
        "roi_align bwd": backward_only(roi_align),
    }
    loop = {
        "roi_pool fwd": lambda: loop_roi_pool(x, rois),
        "roi_pool bwd": lambda: loop_roi_pool_backward(g, x, rois),
        "roi_align fwd": lambda: loop_roi_align(x, rois),
        "roi_align bwd": lambda: loop_roi_align_backward(g, rois, x.shape),
    }
    return ours, loop


def check_same(x, rois, g):
    """The peer must compute what ours computes, or the ratio means nothing."""
    xt = sn.tensor(x, requires_grad=True)
    out = roi_pool(xt, sn.tensor(rois), OUT, spatial_scale=SCALE)
    out.backward(sn.tensor(g))
    np.testing.assert_array_equal(out.data, loop_roi_pool(x, rois))
    np.testing.assert_allclose(xt.grad.data, loop_roi_pool_backward(g, x, rois),
                               rtol=1e-5, atol=1e-5)
    xt.grad = None
    out = roi_align(xt, sn.tensor(rois), OUT, spatial_scale=SCALE)
    out.backward(sn.tensor(g))
    np.testing.assert_allclose(out.data, loop_roi_align(x, rois), rtol=1e-4, atol=1e-5)
    # float32 sums of thousands of terms against the loop's float64 weights
    np.testing.assert_allclose(xt.grad.data, loop_roi_align_backward(g, rois, x.shape),
                               rtol=1e-4, atol=1e-4)


def kernel_builds(x, rois, g):
    """Each kernel compiled with parallel=True and without, from the same source."""
    scale = np.float32(SCALE)
    _, argmax = K.roi_pool_forward(x, rois, scale, OUT, OUT, True)
    n, _, h, w = x.shape
    calls = {
        "roi_pool_forward": (K.roi_pool_forward, (x, rois, scale, OUT, OUT, True)),
        "roi_pool_backward": (K.roi_pool_backward, (g, argmax, rois, n, h, w)),
        "roi_align_forward": (K.roi_align_forward, (x, rois, scale, OUT, OUT, -1, False)),
        "roi_align_backward": (K.roi_align_backward, (g, rois, scale, -1, False, n, h, w)),
    }
    threads = numba.get_num_threads()

    def one_thread(f, args):
        def run():
            numba.set_num_threads(1)
            try:
                f(*args)
            finally:
                numba.set_num_threads(threads)
        return run

    runs = {}
    for name, (kernel, args) in calls.items():
        serial = numba.njit(nogil=True)(kernel.py_func)
        parallel = numba.njit(nogil=True, parallel=True)(kernel.py_func)
        runs[f"{name} serial"] = (lambda f=serial, args=args: f(*args))
        runs[f"{name} parallel1"] = one_thread(parallel, args)
        runs[f"{name} parallel"] = (lambda f=parallel, args=args: f(*args))
    return runs


CHILD = r"""
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
import numpy as np
import scratchnet as sn
from scratchnet.ops import roi_align, roi_pool
t_import = time.perf_counter() - t0
x = sn.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32),
              requires_grad=True)
boxes = sn.tensor([[0, 0.0, 0.0, 6.0, 5.0], [1, 1.0, 2.0, 7.0, 7.0]])
t1 = time.perf_counter()
roi_pool(x, boxes, 2).sum().backward()
t_pool = time.perf_counter() - t1
t1 = time.perf_counter()
roi_align(x, boxes, 2).sum().backward()
t_align = time.perf_counter() - t1
print(t_import, t_pool, t_align, time.perf_counter() - t0)
"""


def compile_times():
    root = os.path.dirname(HERE)
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        res = {}
        for label in ("cold", "warm"):
            out = subprocess.run([sys.executable, "-c", CHILD.format(root=root)], env=env,
                                 capture_output=True, text=True, check=True).stdout.split()
            res[label] = dict(zip(["import", "roi_pool first call", "roi_align first call",
                                   "total"], map(float, out)))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--boxes", type=int, default=300)
    ap.add_argument("--no-compile", action="store_true", help="skip the cold/warm timing")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 256, 50, 50)).astype(np.float32)
    rois = proposals(rng, args.boxes)
    g = rng.standard_normal((args.boxes, 256, OUT, OUT)).astype(np.float32)
    check_same(x, rois, g)

    ours, loop = api_workloads(x, rois, g)
    both = {**{("ours", k): v for k, v in ours.items()},
            **{("loop", k): v for k, v in loop.items()}}
    t = interleaved(both, args.repeats)
    print(f"{args.boxes} boxes -> {OUT}x{OUT}, map (1, 256, 50, 50) float32, scale 1/16, "
          f"numba threads {numba.get_num_threads()}, median of {args.repeats}; CPU = time "
          f"summed over threads (the work done, less sensitive to a busy machine)")
    print(f"{'workload':<15}{'ours ms':>9}{'loop ms':>9}{'loop/ours':>10}"
          f"{'ours CPU':>10}{'loop CPU':>10}{'CPU ratio':>10}")
    api = {}
    for k in ours:
        (a, ac), (b, bc) = t[("ours", k)], t[("loop", k)]
        api[k] = {"ours_ms": a * 1e3, "loop_ms": b * 1e3, "speedup": b / a,
                  "ours_cpu_ms": ac * 1e3, "loop_cpu_ms": bc * 1e3, "cpu_speedup": bc / ac}
        print(f"{k:<15}{a * 1e3:>9.2f}{b * 1e3:>9.1f}{b / a:>9.1f}x"
              f"{ac * 1e3:>10.2f}{bc * 1e3:>10.1f}{bc / ac:>9.1f}x")

    kt = interleaved(kernel_builds(x, rois, g), args.repeats)
    threads = numba.get_num_threads()
    print(f"\n{'kernel':<20}{'serial ms':>11}{'par 1 thr':>11}{f'par {threads} thr':>11}"
          f"{'serial/par':>12}")
    kernels = {}
    for name in ("roi_pool_forward", "roi_pool_backward", "roi_align_forward",
                 "roi_align_backward"):
        s, p1, p = (kt[f"{name} {b}"][0] * 1e3 for b in ("serial", "parallel1", "parallel"))
        kernels[name] = {"serial_ms": s, "parallel_1_thread_ms": p1, "parallel_ms": p,
                         "speedup": s / p}
        print(f"{name:<20}{s:>11.2f}{p1:>11.2f}{p:>11.2f}{s / p:>11.2f}x")

    result = {"boxes": args.boxes, "map": [1, 256, 50, 50], "output": OUT,
              "spatial_scale": SCALE, "repeats": args.repeats,
              "threads": numba.get_num_threads(), "api": api, "kernels": kernels}
    if not args.no_compile:
        ct = compile_times()
        result["compile_s"] = ct
        print(f"\n{'fresh process':<8}{'import s':>10}{'roi_pool 1st s':>16}"
              f"{'roi_align 1st s':>17}{'total s':>9}")
        for label, r in ct.items():
            print(f"{label:<8}{r['import']:>10.2f}{r['roi_pool first call']:>16.2f}"
                  f"{r['roi_align first call']:>17.2f}{r['total']:>9.2f}")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "roi.json"), "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
