"""The measurements behind design choices in scratchnet/ops/conv.py and
scratchnet/kernels/im2col.py (both sides are ours, so one process is fair here).

    python benchmarks/bench_conv.py --extras [--repeats 7]

  - backward rebuilding the columns from the saved input (shipped) vs keeping the forward's
    columns alive until backward (time, and memory held between forward and backward)
  - the column-buffer budget (images per GEMM)
  - im2col built serially (shipped) vs with numba prange over channels
  - cold (empty numba cache) and warm import + first call
  - the crossover between the direct kernels (scratchnet/kernels/conv_direct.py) and
    im2col + GEMM, forward pass, input and weight gradients, over channel counts and kernel
    sizes (`--direct` runs only this one; its table is the one in the README)
  - Winograd's F(2x2, 3x3) (scratchnet/kernels/winograd.py) vs im2col + GEMM on ResNet-18's
    3x3 layers, all three passes, one thread: the crossover behind WINOGRAD_MIN_CHANNELS and
    WINOGRAD_MIN_TILES (`--winograd` runs only this one)
Results: benchmarks/results/conv_extras.json (conv_direct.json, conv_winograd.json).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np

import harness
import scratchnet as sn
import scratchnet.nn.functional as F
from bench_conv import CONV_SHAPES, HERE, conv_data, run_rounds, timed
from scratchnet import _threads
from scratchnet.kernels import conv_direct as KDIR
from scratchnet.kernels import im2col as KI
from scratchnet.ops import conv as conv_op


class KeepColumnsConv2d(sn.Function):
    """conv2d (groups=1) that keeps the forward's columns for backward: the design the
    shipped op does not take. Same kernels, whole batch in one column matrix."""

    @staticmethod
    def forward(ctx, x, w, stride, padding):
        N, C, H, W = x.shape
        K, _, k, _ = w.shape
        oh, ow = (H + 2 * padding - k) // stride + 1, (W + 2 * padding - k) // stride + 1
        args = ((k, k), (stride, stride), (padding, padding), (1, 1), (oh, ow))
        cols = KI.im2col(np.ascontiguousarray(x), *args)
        out = (w.reshape(K, -1) @ cols).reshape(K, N, oh, ow).transpose(1, 0, 2, 3)
        ctx.cols, ctx.w, ctx.args, ctx.x_shape = cols, w, args, x.shape
        return np.ascontiguousarray(out)

    @staticmethod
    def backward(ctx, grad):
        K = ctx.w.shape[0]
        rows = np.ascontiguousarray(grad.transpose(1, 0, 2, 3)).reshape(K, -1)
        dw = (rows @ ctx.cols.T).reshape(ctx.w.shape)
        dx = KI.col2im(ctx.w.reshape(K, -1).T @ rows, ctx.x_shape, *ctx.args)
        return dx, dw


def extra_keep_columns(repeats, rng):
    rows = []
    for name, cfg in CONV_SHAPES:
        N, C, H, W, K, k, s, p, g = cfg
        if g != 1 or k == 1:
            continue
        x = sn.tensor(rng.standard_normal((N, C, H, W)).astype(np.float32), requires_grad=True)
        w = sn.tensor((rng.standard_normal((K, C, k, k)) * 0.1).astype(np.float32),
                      requires_grad=True)
        oh = (H + 2 * p - k) // s + 1
        dy = sn.tensor(rng.standard_normal((N, K, oh, oh)).astype(np.float32))

        def shipped():
            x.grad = w.grad = None
            F.conv2d(x, w, stride=s, padding=p).backward(dy)

        def keep():
            x.grad = w.grad = None
            KeepColumnsConv2d.apply(x, w, stride=s, padding=p).backward(dy)

        times = run_rounds({"rebuild": (shipped, shipped), "keep": (keep, keep)}, repeats)
        med = {m: statistics.median(t["fwd_bwd"]) * 1e3 for m, t in times.items()}
        held = {"rebuild": x.data.nbytes, "keep": C * k * k * N * oh * oh * 4}
        rows.append({"shape": name, "rebuild_ms": med["rebuild"], "keep_ms": med["keep"],
                     "rebuild_held_MB": held["rebuild"] / 2**20,
                     "keep_held_MB": held["keep"] / 2**20})
    print("\nbackward: rebuild the columns from the saved input (shipped) vs keep them")
    print(f"{'shape':18s} {'rebuild ms':>10s} {'keep ms':>9s} {'held MB (rebuild / keep)':>26s}")
    for r in rows:
        print(f"{r['shape']:18s} {r['rebuild_ms']:10.2f} {r['keep_ms']:9.2f} "
              f"{r['rebuild_held_MB']:12.1f} / {r['keep_held_MB']:.1f}")
    return rows


# two shapes the course's models reach beyond bench_conv's list: FCN's conv1_2 (a 64x64
# image padded by 100 runs VGG on 262x262 maps; 40 MB of columns per image, so bands of
# rows) and ResNet-18's last 3x3 layer on 64x64 inputs (2x2 maps, 4,608 rows of columns)
BUDGET_EXTRA_SHAPES = [("fcn_conv1_2_262", (8, 16, 262, 262, 16, 3, 1, 1, 1)),
                       ("resnet_layer4_2x2", (16, 512, 2, 2, 512, 3, 1, 1, 1))]


def extra_budget(repeats, rng):
    budgets = [0.25, 1, 4, 16, 64, 1024]
    picks = [c for c in CONV_SHAPES if c[0] in ("lenet_conv2", "convnetjs_conv2", "3x3_at_56",
                                                "alexnet_conv1")] + BUDGET_EXTRA_SHAPES
    default = conv_op.COLUMN_BUDGET_BYTES
    rows = []
    for name, cfg in picks:
        x, w, dy, kw = conv_data(cfg)
        xs, ws, dys = sn.tensor(x, requires_grad=True), sn.tensor(w, requires_grad=True), \
            sn.tensor(dy)

        def fwd_bwd(xs=xs, ws=ws, dys=dys, kw=kw):
            xs.grad = ws.grad = None
            F.conv2d(xs, ws, **kw).backward(dys)

        fwd_bwd()
        res = {}
        for _ in range(repeats):
            for b in budgets:
                conv_op.COLUMN_BUDGET_BYTES = int(b * 2**20)
                res.setdefault(b, []).append(timed(fwd_bwd))
        conv_op.COLUMN_BUDGET_BYTES = default
        rows.append({"shape": name, **{f"{b}MB": statistics.median(v) * 1e3
                                       for b, v in res.items()}})
    print("\ncolumn-buffer budget (conv2d fwd+bwd ms; shipped: "
          f"{default / 2**20:g} MB)")
    print(f"{'shape':18s} " + " ".join(f"{str(b) + 'MB':>8s}" for b in budgets))
    for r in rows:
        print(f"{r['shape']:18s} " + " ".join(f"{r[f'{b}MB']:8.2f}" for b in budgets))
    return rows


@numba.njit(nogil=True, parallel=True)
def im2col_prange(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w):
    """scratchnet's im2col loops with the channel loop spread over threads (numba prange):
    channel c writes only rows c*kh*kw .. (c+1)*kh*kw - 1, so threads never collide."""
    N, C, H, W = x.shape
    P = out_h * out_w
    L = N * P
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    for c in numba.prange(C):
        for i in range(kh):
            ylo, yhi = KI.valid_range(i * dh - ph, H, sh, out_h)
            for j in range(kw):
                xlo, xhi = KI.valid_range(j * dw - pw, W, sw, out_w)
                row = (c * kh + i) * kw + j
                for n in range(N):
                    for y in range(out_h):
                        dst = numba.uint64(row * L + n * P + y * out_w)
                        if y < ylo or y >= yhi:
                            for t in range(numba.uint64(out_w)):
                                cf[dst + t] = 0
                            continue
                        src = numba.uint64(((n * C + c) * H + y * sh + i * dh - ph) * W
                                           + xlo * sw + j * dw - pw)
                        for t in range(numba.uint64(xlo)):
                            cf[dst + t] = 0
                        run = dst + numba.uint64(xlo)
                        for t in range(numba.uint64(xhi - xlo)):
                            cf[run + t] = xf[src + t * numba.uint64(sw)]
                        for t in range(numba.uint64(xhi), numba.uint64(out_w)):
                            cf[dst + t] = 0
    return cols


def extra_parallel_im2col(repeats, rng):
    rows = []
    for name, cfg in CONV_SHAPES:
        N, C, H, W, K, k, s, p, g = cfg
        if g != 1 or k == 1:
            continue
        x = rng.standard_normal((N, C, H, W)).astype(np.float32)
        oh = (H + 2 * p - k) // s + 1
        cols = np.empty((C * k * k, N * oh * oh), np.float32)
        ref = np.empty_like(cols)
        a = (k, k, s, s, p, p, 1, 1, oh, oh)
        KI.im2col_kernel(x, ref, *a, 0, oh)
        im2col_prange(x, cols, *a)
        assert np.array_equal(cols, ref)
        res = {"serial": [], "prange": []}
        for _ in range(repeats):
            res["serial"].append(timed(lambda: KI.im2col_kernel(x, cols, *a, 0, oh)))
            res["prange"].append(timed(lambda: im2col_prange(x, cols, *a)))
        rows.append({"shape": name, **{m: statistics.median(v) * 1e3 for m, v in res.items()},
                     "GB": cols.nbytes / 1e9})
    print(f"\nim2col alone: serial (shipped) vs numba prange over channels "
          f"({numba.config.NUMBA_NUM_THREADS} threads, {numba.threading_layer()} layer), ms")
    for r in rows:
        print(f"{r['shape']:18s} serial {r['serial']:7.2f}  prange {r['prange']:7.2f}  "
              f"({r['GB'] / (r['serial'] / 1e3):.1f} GB/s serial)")
    return rows


CHILD = r"""
import time
t0 = time.perf_counter()
import numpy as np
import scratchnet as sn
import scratchnet.nn.functional as F
t1 = time.perf_counter()
x = sn.randn(2, 4, 9, 9, requires_grad=True)
F.conv2d(x, sn.randn(6, 4, 3, 3), padding=1).sum().backward()
F.conv2d(x, sn.randn(4, 1, 3, 3), padding=1, groups=4).sum().backward()
F.conv_transpose2d(x, sn.randn(4, 2, 3, 3), stride=2).sum().backward()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


# (N, H, W): a LeNet/ConvNetJS-sized batch of small maps and one of larger maps
DIRECT_MAPS = [(32, 16, 16), (16, 32, 32)]
DIRECT_CHANNELS_IN = [3, 8, 16, 32, 64]
DIRECT_CHANNELS_OUT = [8, 16, 32, 64]


def _best(fn, repeats):
    """Least CPU time of `repeats` calls (steadier than wall time on shared cores)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def _direct_vs_gemm(g, image, weight, grid, repeats, passes):
    """{pass: (direct ms, im2col + GEMM ms)} for the forward pass, the input gradient and the
    weight gradient, with the dispatcher forced one way, then the other, alternately."""
    names = ("DIRECT_MAX_FILTERS", "DIRECT_MAX_ROWS", "DIRECT_MIN_USEFUL")
    saved = [getattr(conv_op, n) for n in names]
    res = {p: ([], []) for p in passes}
    try:
        for _ in range(repeats):
            for side, limits in ((0, (10**9, 10**9, 0.0)), (1, (0, 0, 2.0))):
                for name, value in zip(names, limits):
                    setattr(conv_op, name, value)
                if "fwd" in res:
                    res["fwd"][side].append(_best(
                        lambda: conv_op._im2col_pass(g, image, weight=weight), 1))
                if "dx" in res:
                    res["dx"][side].append(_best(
                        lambda: conv_op._col2im_pass(g, grid, weight), 1))
                if "dw" in res:
                    res["dw"][side].append(_best(
                        lambda: conv_op._im2col_pass(g, image, grid=grid), 1))
    finally:
        for name, value in zip(names, saved):
            setattr(conv_op, name, value)
    return {p: (1e3 * min(d), 1e3 * min(m)) for p, (d, m) in res.items()}


def _useful(g, input_grad):
    """conv_direct.useful_fraction of the forward pass or of the input gradient."""
    c_in, c_out = (g.K, g.C) if input_grad else (g.C, g.K)
    image, out = ((g.out_h, g.out_w), (g.H, g.W))
    if not input_grad:
        image, out = out, image
    return KDIR.useful_fraction((g.N, c_in) + image, g.kernel, out, g.dilation, c_out)


def _chosen(g, ps):
    """Whether the library runs pass `ps` of g on the direct kernel, in a layer whose input
    needs its gradient too (as here)."""
    if ps == "dw":
        return g.direct_weight_grad_fits(with_input_grad=True)
    return g.direct_fits(input_grad=ps == "dx")


def extra_direct(repeats, rng, dtype=np.float32, sweep=True):
    """Direct kernel vs im2col + GEMM for stride-1 convolutions over channel counts: the
    measurement behind DIRECT_MAX_FILTERS and DIRECT_MAX_ROWS in scratchnet/ops/conv.py.
    A forward pass with C -> K channels and an input gradient with K -> C are the same kind
    of pass for the direct kernel, so the sweep times forward passes and weight gradients
    (the weight-gradient kernel, chosen by the same rule as the forward pass), and the
    course's shapes all three passes."""
    rows = []
    for k in (5, 3) if sweep else ():
        for N, H, W in DIRECT_MAPS:
            for C in DIRECT_CHANNELS_IN:
                for K in DIRECT_CHANNELS_OUT:
                    x = rng.standard_normal((N, C, H, W)).astype(dtype)
                    w = rng.standard_normal((K, C, k, k)).astype(dtype)
                    g = conv_op._conv_geometry("conv2d", x, w, None, 1, k // 2, 1, 1)
                    dy = rng.standard_normal(g.grid_shape).astype(dtype)
                    t = _direct_vs_gemm(g, x, w, dy, repeats, ("fwd", "dw"))
                    for ps in ("fwd", "dw"):
                        rows.append({"pass": ps, "shape": (N, C, H, W), "k": k, "C": C,
                                     "K": K, "rows": C * k * k, "direct_ms": t[ps][0],
                                     "gemm_ms": t[ps][1], "useful": _useful(g, False),
                                     "chosen": "direct" if _chosen(g, ps) else "gemm"})
    for name, (N, C, H, W, K, k, s, p, groups) in CONV_SHAPES:
        if s != 1 or groups != 1 or k not in (3, 5):
            continue
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
        w = rng.standard_normal((K, C, k, k)).astype(dtype)
        g = conv_op._conv_geometry("conv2d", x, w, None, s, p, 1, groups)
        dy = rng.standard_normal(g.grid_shape).astype(dtype)
        t = _direct_vs_gemm(g, x, w, dy, repeats, ("fwd", "dx", "dw"))
        for ps, (C_in, C_out) in (("fwd", (C, K)), ("dx", (K, C)), ("dw", (C, K))):
            grad = ps == "dx"
            rows.append({"pass": ps, "shape": (N, C, H, W), "name": name, "k": k,
                         "C": C_in, "K": C_out, "rows": C_in * k * k,
                         "direct_ms": t[ps][0], "gemm_ms": t[ps][1],
                         "useful": _useful(g, grad),
                         "chosen": "direct" if _chosen(g, ps) else "gemm"})
    print("\ndirect kernel vs im2col + GEMM, stride 1 (CPU time, best of "
          f"{repeats}, ms; 'C -> K': the pass's input and output channels; useful: the share "
          "of the direct kernel's multiply-adds that make an output):")
    print(f"{'pass':5s}{'batch':>18s}{'k':>3s}{'C -> K':>10s}{'C*k*k':>7s}{'useful':>7s}"
          f"{'direct':>9s}{'GEMM':>9s}{'GEMM/direct':>13s}  chosen")
    for r in rows:
        label = r.get("name", "x".join(str(v) for v in r["shape"]))
        print(f"{r['pass']:5s}{label:>18s}{r['k']:3d}{r['C']:>5d} ->{r['K']:>3d}{r['rows']:7d}"
              f"{r['useful']:7.2f}"
              f"{r['direct_ms']:9.3f}{r['gemm_ms']:9.3f}{r['gemm_ms'] / r['direct_ms']:13.2f}"
              f"  {r['chosen']}")
    return rows


# ResNet-18's stride-1 3x3 layers at 224x224 (batch 8; its last at 16 and 32 too) and at
# 64x64 (batch 16), as (N, C, H, K), and two channel counts below the rule's 64
WINOGRAD_SHAPES = [(8, 64, 56, 64), (8, 128, 28, 128), (8, 256, 14, 256), (8, 512, 7, 512),
                   (16, 512, 7, 512), (32, 512, 7, 512),
                   (16, 64, 16, 64), (16, 128, 8, 128), (16, 256, 4, 256), (16, 512, 2, 512),
                   (8, 48, 56, 48), (8, 32, 56, 64)]


def extra_winograd(repeats, rng, dtype=np.float32):
    """Winograd's F(2x2, 3x3) vs im2col + GEMM, one thread (CPU time, best of `repeats`,
    the two ways alternately): the measurement behind WINOGRAD_MIN_CHANNELS and
    WINOGRAD_MIN_TILES in scratchnet/ops/conv.py."""
    names = ("WINOGRAD_MIN_CHANNELS", "WINOGRAD_MIN_TILES")
    saved = [getattr(conv_op, n) for n in names]
    blas_threads = _threads._blas[1]() if _threads.available() else None
    if blas_threads is not None:
        _threads._blas[0](1)
    rows = []
    try:
        for N, C, H, K in WINOGRAD_SHAPES:
            x = rng.standard_normal((N, C, H, H)).astype(dtype)
            w = (rng.standard_normal((K, C, 3, 3)) / (3 * C**0.5)).astype(dtype)
            g = conv_op._conv_geometry("conv2d", x, w, None, 1, 1, 1, 1)
            dy = rng.standard_normal(g.grid_shape).astype(dtype)
            for name, value in zip(names, saved):
                setattr(conv_op, name, value)
            chosen = "winograd" if g.winograd_fits() else "gemm"
            passes = {"fwd": lambda: conv_op._im2col_pass(g, x, weight=w),
                      "dx": lambda: conv_op._col2im_pass(g, dy, w),
                      "dw": lambda: conv_op._im2col_pass(g, x, grid=dy)}
            times = {p: ([], []) for p in passes}
            for _ in range(repeats):
                for side, limits in ((0, (1, 1)), (1, (10**9, 10**9))):
                    for name, value in zip(names, limits):
                        setattr(conv_op, name, value)
                    for p, fn in passes.items():
                        times[p][side].append(_best(fn, 1))
            for p, (wino, gemm) in times.items():
                rows.append({"pass": p, "shape": (N, C, H, H), "K": K,
                             "tiles": N * (-(-H // 2))**2, "winograd_ms": 1e3 * min(wino),
                             "gemm_ms": 1e3 * min(gemm), "chosen": chosen})
    finally:
        for name, value in zip(names, saved):
            setattr(conv_op, name, value)
        if blas_threads is not None:
            _threads._blas[0](blas_threads)
    print(f"\nWinograd F(2x2, 3x3) vs im2col + GEMM, 3x3 stride 1 padding 1, one thread (CPU "
          f"time, best of {repeats}, ms):")
    print(f"{'pass':5s}{'batch':>16s}{'K':>5s}{'tiles':>7s}{'Winograd':>10s}{'GEMM':>9s}"
          f"{'GEMM/Winograd':>15s}  chosen")
    for r in rows:
        label = "x".join(str(v) for v in r["shape"])
        print(f"{r['pass']:5s}{label:>16s}{r['K']:5d}{r['tiles']:7d}{r['winograd_ms']:10.2f}"
              f"{r['gemm_ms']:9.2f}{r['gemm_ms'] / r['winograd_ms']:15.2f}  {r['chosen']}")
    return rows


def extra_compile():
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache
        res = {}
        for label in ("cold", "warm"):
            out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                                 text=True, cwd=os.path.dirname(HERE), check=True)
            imp, first = (float(v) for v in out.stdout.split())
            res[label] = {"import_s": imp, "first_calls_s": first}
    print("\nimport + first conv2d / depthwise / conv_transpose2d fwd+bwd (fresh process):")
    for label, r in res.items():
        print(f"  {label}: import {r['import_s']:.2f} s, first calls {r['first_calls_s']:.2f} s")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--direct", action="store_true",
                    help="only the direct-kernel crossover (results: conv_direct.json)")
    ap.add_argument("--winograd", action="store_true",
                    help="only the Winograd crossover (results: conv_winograd.json)")
    args, _ = ap.parse_known_args()
    rng = np.random.default_rng(0)
    if args.winograd:
        with open(harness.results_path("conv_winograd"), "w") as f:
            json.dump(extra_winograd(args.repeats, rng), f, indent=2)
        return
    if args.direct:
        with open(harness.results_path("conv_direct"), "w") as f:
            json.dump(extra_direct(args.repeats, rng), f, indent=2)
        return
    extras = {"keep_columns": extra_keep_columns(args.repeats, rng),
              "column_budget": extra_budget(max(3, args.repeats // 2), rng),
              "parallel_im2col": extra_parallel_im2col(args.repeats, rng),
              "direct": extra_direct(args.repeats, rng),
              "winograd": extra_winograd(args.repeats, rng),
              "compile": extra_compile()}
    with open(harness.results_path("conv_extras"), "w") as f:
        json.dump(extras, f, indent=2)


if __name__ == "__main__":
    main()
