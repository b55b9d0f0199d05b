"""Convolution speed: conv2d and conv_transpose2d, ours vs PyTorch CPU vs textbook NumPy.

    python benchmarks/bench_conv.py [--repeats 7] [--only lenet_conv1 ...] [--no-extras]
                                    [--threads N]

The shapes are the course's layers: LeNet-5, the ConvNetJS CIFAR-10 demo, ResNet-style 3x3
and 1x1 layers, AlexNet's first layer, a MobileNet depthwise layer and two FCN-style
transposed convolutions. All float32, through the public API (the autograd bookkeeping is
part of what a user pays).

Peers:
  torch    torch.nn.functional, default threads (when torch is installed)
  numpy    the textbook im2col: loops over the kh*kw kernel offsets, each copying a strided
           slice of the padded batch into a 6-D (N, C, kh, kw, H', W') column array, then
           np.tensordot; its backward is the same in reverse (written below)
Every workload of every peer runs once per round, in turn, so machine noise hits all alike;
the median over rounds is reported. "x torch" and "x numpy" are speed ratios, peer time /
our time (above 1: we are faster). The ceiling is NumPy's own float32 GEMM on a 1024^3
product, timed in the same rounds: no im2col convolution can beat the GEMM it runs on.

Extras (skip with --no-extras), the measurements behind choices in scratchnet/ops/conv.py
and scratchnet/kernels/im2col.py:
  - backward rebuilding the columns from the saved input (shipped) vs keeping the forward's
    columns alive until backward (time, and memory held between forward and backward)
  - the column-buffer budget (images per GEMM)
  - im2col built serially (shipped) vs with numba prange over channels
  - cold (empty numba cache) and warm import + first call

--threads N gives OpenBLAS, numba and torch N threads each (default: their own defaults, one
per core). On a machine shared with other work, two-thread GEMMs stall at every barrier
while a thread waits for a core; --threads 1 compares the libraries core for core.

OMP_WAIT_POLICY is PASSIVE unless set: PyTorch's OpenMP threads otherwise keep spinning long
after each op, and an OpenBLAS GEMM that follows in the same process on two cores took
~130 ms instead of ~2 ms (measured here: a 1x1 convolution right after a torch call). The
peers take turns, so idle threads must sleep for either side to be timed fairly.

Results: benchmarks/results/conv[_tN].json and conv[_tN].png.
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

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if "--threads" in sys.argv:
    # BLAS and numba read their thread counts once, when first imported
    _n = sys.argv[sys.argv.index("--threads") + 1]
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "NUMBA_NUM_THREADS"):
        os.environ[_var] = _n

import numba  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import scratchnet as sn  # noqa: E402
import scratchnet.nn.functional as F  # noqa: E402
from scratchnet.kernels import im2col as KI  # noqa: E402
from scratchnet.ops import conv as conv_op  # noqa: E402

# name, (N, C, H, W, K, k, stride, pad, groups)
CONV_SHAPES = [
    ("lenet_conv1", (64, 1, 32, 32, 6, 5, 1, 0, 1)),
    ("lenet_conv2", (64, 6, 14, 14, 16, 5, 1, 0, 1)),
    ("convnetjs_conv1", (32, 3, 32, 32, 16, 5, 1, 2, 1)),
    ("convnetjs_conv2", (32, 16, 16, 16, 20, 5, 1, 2, 1)),
    ("3x3_at_56", (8, 64, 56, 56, 64, 3, 1, 1, 1)),
    ("3x3_at_28", (8, 128, 28, 28, 128, 3, 1, 1, 1)),
    ("1x1_bottleneck", (8, 256, 28, 28, 64, 1, 1, 0, 1)),
    ("alexnet_conv1", (4, 3, 227, 227, 96, 11, 4, 0, 1)),
    ("depthwise_3x3", (8, 64, 56, 56, 64, 3, 1, 1, 64)),
]
# name, (N, C_in, H, W, C_out, k, stride, pad)
CONV_T_SHAPES = [
    ("fcn_up2_k4s2p1", (4, 21, 16, 16, 21, 4, 2, 1)),
    ("fsrcnn_deconv_k9s3p4", (8, 56, 32, 32, 1, 9, 3, 4)),
]
LARGE_3X3 = ("3x3_at_56", "3x3_at_28")


def np_cols(xp, k, s, oh, ow):
    """(N, C, Hp, Wp) padded -> (N, C, k, k, oh, ow): one strided slice per kernel offset."""
    N, C = xp.shape[:2]
    cols = np.empty((N, C, k, k, oh, ow), xp.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = xp[:, :, i:i + s * oh:s, j:j + s * ow:s]
    return cols


def np_uncols(dcols, x_shape, k, s, p):
    """The adjoint: add every offset's slice back into the padded image, crop the padding."""
    N, C, H, W = x_shape
    oh, ow = dcols.shape[-2:]
    dxp = np.zeros((N, C, H + 2 * p, W + 2 * p), dcols.dtype)
    for i in range(k):
        for j in range(k):
            dxp[:, :, i:i + s * oh:s, j:j + s * ow:s] += dcols[:, :, i, j]
    return dxp[:, :, p:p + H, p:p + W]


def np_conv_forward(x, w, s, p, groups):
    N, C, H, W = x.shape
    K, Cg, k, _ = w.shape
    oh, ow = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    cols = np_cols(xp, k, s, oh, ow)
    Kg = K // groups
    out = np.empty((N, K, oh, ow), x.dtype)
    for g in range(groups):   # the textbook has no groups: one tensordot per group
        out[:, g * Kg:(g + 1) * Kg] = np.tensordot(
            cols[:, g * Cg:(g + 1) * Cg], w[g * Kg:(g + 1) * Kg],
            axes=([1, 2, 3], [1, 2, 3])).transpose(0, 3, 1, 2)
    return out, cols


def np_conv_backward(x, w, cols, dy, s, p, groups):
    K, Cg, k, _ = w.shape
    Kg = K // groups
    dw = np.empty_like(w)
    dcols = np.empty_like(cols)
    for g in range(groups):
        dy_g = dy[:, g * Kg:(g + 1) * Kg]
        dw[g * Kg:(g + 1) * Kg] = np.tensordot(dy_g, cols[:, g * Cg:(g + 1) * Cg],
                                               axes=([0, 2, 3], [0, 4, 5]))
        dcols[:, g * Cg:(g + 1) * Cg] = np.tensordot(
            dy_g, w[g * Kg:(g + 1) * Kg], axes=([1], [0])).transpose(0, 3, 4, 5, 1, 2)
    return np_uncols(dcols, x.shape, k, s, p), dw


def np_conv_t_forward(x, w, s, p):
    """Transposed convolution = the conv's input gradient: tensordot then un-im2col."""
    N, Cin, H, W = x.shape
    _, Cout, k, _ = w.shape
    Ho, Wo = (H - 1) * s - 2 * p + k, (W - 1) * s - 2 * p + k
    dcols = np.tensordot(x, w, axes=([1], [0])).transpose(0, 3, 4, 5, 1, 2)
    return np_uncols(dcols, (N, Cout, Ho, Wo), k, s, p)


def np_conv_t_backward(x, w, dy, s, p):
    N, Cin, H, W = x.shape
    k = w.shape[2]
    cols = np_cols(np.pad(dy, ((0, 0), (0, 0), (p, p), (p, p))), k, s, H, W)
    dx = np.tensordot(cols, w, axes=([1, 2, 3], [1, 2, 3])).transpose(0, 3, 1, 2)
    dw = np.tensordot(x, cols, axes=([0, 2, 3], [0, 4, 5]))
    return dx, dw


def conv_workloads(cfg, torch, rng):
    N, C, H, W, K, k, s, p, g = cfg
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((K, C // g, k, k)) * 0.1).astype(np.float32)
    oh, ow = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    dy = rng.standard_normal((N, K, oh, ow)).astype(np.float32)
    flops = 2 * N * K * oh * ow * (C // g) * k * k
    kw = dict(stride=s, padding=p, groups=g)

    xs, ws, dys = (sn.tensor(x, requires_grad=True), sn.tensor(w, requires_grad=True),
                   sn.tensor(dy))

    def ours_fwd():
        with sn.no_grad():
            return F.conv2d(xs, ws, **kw)

    def ours_fwd_bwd():
        xs.grad = ws.grad = None
        F.conv2d(xs, ws, **kw).backward(dys)

    def numpy_fwd():
        return np_conv_forward(x, w, s, p, g)[0]

    def numpy_fwd_bwd():
        out, cols = np_conv_forward(x, w, s, p, g)
        return np_conv_backward(x, w, cols, dy, s, p, g)

    work = {"ours": (ours_fwd, ours_fwd_bwd), "numpy": (numpy_fwd, numpy_fwd_bwd)}
    check = [(lambda: ours_fwd().data, numpy_fwd)]
    if torch is not None:
        tx, tw = (torch.from_numpy(x).requires_grad_(True),
                  torch.from_numpy(w).requires_grad_(True))
        tdy = torch.from_numpy(dy)

        def torch_fwd():
            with torch.no_grad():
                return torch.nn.functional.conv2d(tx, tw, **kw)

        def torch_fwd_bwd():
            tx.grad = tw.grad = None
            torch.nn.functional.conv2d(tx, tw, **kw).backward(tdy)

        work["torch"] = (torch_fwd, torch_fwd_bwd)
        check.append((lambda: ours_fwd().data, lambda: torch_fwd().numpy()))
    return work, flops, check


def conv_t_workloads(cfg, torch, rng):
    N, Cin, H, W, Cout, k, s, p = cfg
    x = rng.standard_normal((N, Cin, H, W)).astype(np.float32)
    w = (rng.standard_normal((Cin, Cout, k, k)) * 0.1).astype(np.float32)
    Ho, Wo = (H - 1) * s - 2 * p + k, (W - 1) * s - 2 * p + k
    dy = rng.standard_normal((N, Cout, Ho, Wo)).astype(np.float32)
    flops = 2 * N * Cin * H * W * Cout * k * k
    kw = dict(stride=s, padding=p)
    xs, ws, dys = (sn.tensor(x, requires_grad=True), sn.tensor(w, requires_grad=True),
                   sn.tensor(dy))

    def ours_fwd():
        with sn.no_grad():
            return F.conv_transpose2d(xs, ws, **kw)

    def ours_fwd_bwd():
        xs.grad = ws.grad = None
        F.conv_transpose2d(xs, ws, **kw).backward(dys)

    def numpy_fwd():
        return np_conv_t_forward(x, w, s, p)

    def numpy_fwd_bwd():
        np_conv_t_forward(x, w, s, p)
        return np_conv_t_backward(x, w, dy, s, p)

    work = {"ours": (ours_fwd, ours_fwd_bwd), "numpy": (numpy_fwd, numpy_fwd_bwd)}
    check = [(lambda: ours_fwd().data, numpy_fwd)]
    if torch is not None:
        tx, tw = (torch.from_numpy(x).requires_grad_(True),
                  torch.from_numpy(w).requires_grad_(True))
        tdy = torch.from_numpy(dy)

        def torch_fwd():
            with torch.no_grad():
                return torch.nn.functional.conv_transpose2d(tx, tw, **kw)

        def torch_fwd_bwd():
            tx.grad = tw.grad = None
            torch.nn.functional.conv_transpose2d(tx, tw, **kw).backward(tdy)

        work["torch"] = (torch_fwd, torch_fwd_bwd)
        check.append((lambda: ours_fwd().data, lambda: torch_fwd().numpy()))
    return work, flops, check


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run_rounds(work, repeats, ceiling=None):
    """{peer: {"fwd": [s...], "fwd_bwd": [s...]}}, every workload once per round, in turn."""
    for fwd, fwd_bwd in work.values():          # warm-up: compile, allocate, load BLAS
        fwd()
        fwd_bwd()
    times = {peer: {"fwd": [], "fwd_bwd": []} for peer in work}
    gemm = []
    for _ in range(repeats):
        for peer, (fwd, fwd_bwd) in work.items():
            times[peer]["fwd"].append(timed(fwd))
            times[peer]["fwd_bwd"].append(timed(fwd_bwd))
        if ceiling is not None:
            gemm.append(timed(ceiling))
    return times, gemm


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

        times, _ = run_rounds({"rebuild": (shipped, shipped), "keep": (keep, keep)}, repeats)
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


def extra_budget(repeats, rng):
    budgets = [0.25, 1, 4, 16, 64, 1024]
    picks = [c for c in CONV_SHAPES if c[0] in ("lenet_conv2", "convnetjs_conv2", "3x3_at_56",
                                                "alexnet_conv1")]
    default = conv_op.COLUMN_BUDGET_BYTES
    rows = []
    for name, cfg in picks:
        work, _, _ = conv_workloads(cfg, None, rng)
        fwd_bwd = work["ours"][1]
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
        KI.im2col_kernel(x, ref, *a)
        im2col_prange(x, cols, *a)
        assert np.array_equal(cols, ref)
        res = {"serial": [], "prange": []}
        for _ in range(repeats):
            res["serial"].append(timed(lambda: KI.im2col_kernel(x, cols, *a)))
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--only", nargs="*", help="shape names to run")
    ap.add_argument("--no-extras", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--threads", type=int, help="threads for BLAS, numba and torch")
    args = ap.parse_args()

    torch = None
    if not args.no_torch:
        try:
            import torch
            if args.threads:
                torch.set_num_threads(args.threads)
        except ImportError:
            print("torch is not installed: comparing with the NumPy textbook only")
    rng = np.random.default_rng(0)
    A = rng.standard_normal((1024, 1024)).astype(np.float32)
    B = rng.standard_normal((1024, 1024)).astype(np.float32)
    ceiling_fn = lambda: np.matmul(A, B)  # noqa: E731

    print(f"numpy {np.__version__}, numba {numba.__version__}"
          + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else "")
          + f", {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
          + (f", {args.threads} thread(s) each" if args.threads else "")
          + f", OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    rows, all_gemm = [], []
    jobs = [("conv2d", n, c) for n, c in CONV_SHAPES] + \
           [("conv_transpose2d", n, c) for n, c in CONV_T_SHAPES]
    for op, name, cfg in jobs:
        if args.only and name not in args.only:
            continue
        make = conv_workloads if op == "conv2d" else conv_t_workloads
        work, flops, check = make(cfg, torch, rng)
        for ours, ref in check:
            a, b = ours(), ref()
            scale = float(np.abs(b).max())
            assert np.allclose(a, b, rtol=1e-3, atol=1e-3 * scale), f"{name}: results differ"
        times, gemm = run_rounds(work, args.repeats, ceiling_fn)
        all_gemm += gemm
        row = {"op": op, "shape": name, "config": cfg, "gflop_fwd": flops / 1e9}
        for peer, t in times.items():
            for phase, ts in t.items():
                row[f"{peer}_{phase}_ms"] = statistics.median(ts) * 1e3
        rows.append(row)
        print(f"  measured {op} {name}", flush=True)

    ceiling = 2 * 1024**3 / statistics.median(all_gemm) / 1e9 if all_gemm else float("nan")
    peers = ["ours"] + (["torch"] if torch else []) + ["numpy"]
    print(f"\nNumPy float32 GEMM ceiling (1024^3, same rounds): {ceiling:.1f} GFLOP/s\n")
    for phase, mult in (("fwd", 1), ("fwd_bwd", 3)):
        print(f"{'forward' if phase == 'fwd' else 'forward + backward'} (ms; GFLOP/s ours; "
              "speed ratios = peer time / our time)")
        head = f"{'op':16s} {'shape':22s}" + "".join(f"{p + ' ms':>10s}" for p in peers)
        head += f"{'GFLOP/s':>9s}{'% ceil':>8s}"
        head += (f"{'x torch':>9s}" if torch else "") + f"{'x numpy':>9s}"
        print(head)
        for r in rows:
            gf = mult * r["gflop_fwd"] / (r[f"ours_{phase}_ms"] / 1e3)
            r[f"ours_{phase}_gflops"] = gf
            line = f"{r['op']:16s} {r['shape']:22s}" + "".join(
                f"{r[f'{p}_{phase}_ms']:10.2f}" for p in peers)
            line += f"{gf:9.1f}{100 * gf / ceiling:7.0f}%"
            if torch:
                r[f"x_torch_{phase}"] = r[f"torch_{phase}_ms"] / r[f"ours_{phase}_ms"]
                line += f"{r[f'x_torch_{phase}']:9.2f}"
            r[f"x_numpy_{phase}"] = r[f"numpy_{phase}_ms"] / r[f"ours_{phase}_ms"]
            line += f"{r[f'x_numpy_{phase}']:9.2f}"
            print(line)
        print()

    goals = []
    for r in rows:
        if torch and r["op"] == "conv2d" and r["x_torch_fwd_bwd"] < 0.5:
            goals.append(f"{r['shape']}: conv2d fwd+bwd at {r['x_torch_fwd_bwd']:.2f}x torch "
                         "(goal 0.5x)")
        if torch and r["op"] == "conv_transpose2d" and r["x_torch_fwd_bwd"] < 0.5:
            goals.append(f"{r['shape']}: conv_transpose2d fwd+bwd at "
                         f"{r['x_torch_fwd_bwd']:.2f}x torch (goal: within 2x)")
        if r["x_numpy_fwd_bwd"] < 3:
            goals.append(f"{r['shape']}: {r['x_numpy_fwd_bwd']:.2f}x the NumPy textbook "
                         "(goal 3x)")
        if r["shape"] in LARGE_3X3 and r["ours_fwd_bwd_gflops"] < 0.6 * ceiling:
            goals.append(f"{r['shape']}: {100 * r['ours_fwd_bwd_gflops'] / ceiling:.0f}% of "
                         "the GEMM ceiling (goal 60%)")
    print("goals missed in this run:" if goals else "all goals met in this run")
    for gline in goals:
        print("  " + gline)

    extras = {}
    if not args.no_extras:
        extras["keep_columns"] = extra_keep_columns(args.repeats, rng)
        extras["column_budget"] = extra_budget(max(3, args.repeats // 2), rng)
        extras["parallel_im2col"] = extra_parallel_im2col(args.repeats, rng)
        extras["compile"] = extra_compile()

    out_dir = os.path.join(HERE, "results")
    os.makedirs(out_dir, exist_ok=True)
    stem = "conv" + (f"_t{args.threads}" if args.threads else "")
    with open(os.path.join(out_dir, stem + ".json"), "w") as f:
        json.dump({"numpy": np.__version__, "numba": numba.__version__,
                   "torch": torch.__version__ if torch else None, "threads": args.threads,
                   "load_average": os.getloadavg(), "repeats": args.repeats,
                   "gemm_ceiling_gflops": ceiling, "rows": rows, "extras": extras,
                   "goals_missed": goals}, f, indent=2)
    plot(rows, peers, ceiling, os.path.join(out_dir, stem + ".png"))
    print(f"\nwrote benchmarks/results/{stem}.json and {stem}.png")


def plot(rows, peers, ceiling, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5), sharey=True)
    names = [r["shape"] for r in rows]
    y = np.arange(len(rows))
    h = 0.8 / len(peers)
    for ax, (phase, mult, title) in zip(axes, (("fwd", 1, "forward"),
                                               ("fwd_bwd", 3, "forward + backward"))):
        for i, p in enumerate(peers):
            gf = [mult * r["gflop_fwd"] / (r[f"{p}_{phase}_ms"] / 1e3) for r in rows]
            ax.barh(y + (i - (len(peers) - 1) / 2) * h, gf, height=h, label=p)
        ax.axvline(ceiling, color="k", ls="--", lw=1, label="NumPy GEMM ceiling")
        ax.set_title(f"{title}, float32")
        ax.set_xlabel("GFLOP/s (higher is better)")
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    axes[1].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
