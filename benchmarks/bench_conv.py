"""Convolution speed: conv2d and conv_transpose2d, ours vs PyTorch CPU vs textbook NumPy.

    python benchmarks/bench_conv.py [--rounds 5] [--repeats 7] [--only lenet_conv1 ...]
                                    [--threads 2] [--sides scratchnet torch numpy]
    python benchmarks/bench_conv.py --extras       # the measurements behind design choices
    python benchmarks/bench_conv.py --extras --direct   # only: direct kernel vs im2col + GEMM
    python benchmarks/bench_conv.py --extras --winograd   # only: Winograd vs im2col + GEMM
    python benchmarks/bench_conv.py --threads 1 --clock cpu   # steadier on shared cores

The shapes are the course's layers: LeNet-5, the ConvNetJS CIFAR-10 demo, ResNet-style 3x3
and 1x1 layers, AlexNet's first layer, a MobileNet depthwise layer and two FCN-style
transposed convolutions. All float32, through the public API (the autograd bookkeeping is
part of what a user pays).

Peers, each in a process of its own (benchmarks/harness.py: alternating rounds, medians,
the same thread count for every side):
  torch    torch.nn.functional (when torch is installed)
  numpy    the textbook im2col: loops over the kh*kw kernel offsets, each copying a strided
           slice of the padded batch into a 6-D (N, C, kh, kw, H', W') column array, then
           np.tensordot; its backward is the same in reverse (written below)
Ratios are peer time / our time (above 1: we are faster). The numpy side also times NumPy's
own float32 GEMM on a 1024^3 product: the ceiling no im2col convolution can beat, reported in
GFLOP/s next to ours. Goals (issue "Honest speed"): every shape's fwd+bwd at least 0.8 of
PyTorch's speed, and their geometric mean at least 1.2.

--extras runs, in one process (both sides are ours), the measurements behind choices in
scratchnet/ops/conv.py and scratchnet/kernels/im2col.py:
  - backward rebuilding the columns from the saved input (shipped) vs keeping the forward's
    columns alive until backward (time, and memory held between forward and backward)
  - the column-buffer budget (images per GEMM)
  - im2col built serially (shipped) vs with numba prange over channels
  - cold (empty numba cache) and warm import + first call
  - the direct kernels (scratchnet/kernels/conv_direct.py) vs im2col + GEMM over channel
    counts, all three passes, the crossover behind DIRECT_MAX_FILTERS (--direct: only this)
  - Winograd's F(2x2, 3x3) vs im2col + GEMM on ResNet-18's 3x3 layers (--winograd: only this)

Results: benchmarks/results/conv.json (and conv_extras.json, conv_direct.json,
conv_winograd.json).
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

import harness

HERE = os.path.dirname(os.path.abspath(__file__))

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
    ("depthwise_3x3", (8, 128, 56, 56, 128, 3, 1, 1, 128)),
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


def conv_data(cfg):
    N, C, H, W, K, k, s, p, g = cfg
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((K, C // g, k, k)) * 0.1).astype(np.float32)
    oh, ow = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    dy = rng.standard_normal((N, K, oh, ow)).astype(np.float32)
    return x, w, dy, dict(stride=s, padding=p, groups=g)


def conv_t_data(cfg):
    N, Cin, H, W, Cout, k, s, p = cfg
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, Cin, H, W)).astype(np.float32)
    w = (rng.standard_normal((Cin, Cout, k, k)) * 0.1).astype(np.float32)
    Ho, Wo = (H - 1) * s - 2 * p + k, (W - 1) * s - 2 * p + k
    dy = rng.standard_normal((N, Cout, Ho, Wo)).astype(np.float32)
    return x, w, dy, dict(stride=s, padding=p)


def flops(op, cfg):
    """Multiply-adds x 2 of the forward pass."""
    if op == "conv2d":
        N, C, H, W, K, k, s, p, g = cfg
        oh, ow = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
        return 2 * N * K * oh * ow * (C // g) * k * k
    N, Cin, H, W, Cout, k, s, p = cfg
    return 2 * N * Cin * H * W * Cout * k * k


def jobs(args):
    every = [("conv2d", n, c) for n, c in CONV_SHAPES] + \
            [("conv_transpose2d", n, c) for n, c in CONV_T_SHAPES]
    return [j for j in every if not args.only or j[1] in args.only]


def framework_side(args, F, tensor, detach_grad, no_grad):
    """fwd and fwd+bwd of every job in a framework with torch's functional API."""
    work = {}
    for op, name, cfg in jobs(args):
        x, w, dy, kw = (conv_data if op == "conv2d" else conv_t_data)(cfg)
        fn = F.conv2d if op == "conv2d" else F.conv_transpose2d
        xs, ws, dys = tensor(x, True), tensor(w, True), tensor(dy, False)

        def fwd(fn=fn, xs=xs, ws=ws, kw=kw):
            with no_grad():
                return fn(xs, ws, **kw)

        def fwd_bwd(fn=fn, xs=xs, ws=ws, dys=dys, kw=kw):
            xs.grad = ws.grad = None
            fn(xs, ws, **kw).backward(dys)

        work[f"{name} fwd"], work[f"{name} fwd+bwd"] = fwd, fwd_bwd
    return work


def ours(args):
    import scratchnet as sn
    import scratchnet.nn.functional as F
    return framework_side(args, F, lambda a, g: sn.tensor(a, requires_grad=g), None,
                          sn.no_grad)


def torch_side(args):
    import torch
    return framework_side(args, torch.nn.functional,
                          lambda a, g: torch.from_numpy(a.copy()).requires_grad_(g), None,
                          torch.no_grad)


def numpy_side(args):
    work = {}
    for op, name, cfg in jobs(args):
        if op == "conv2d":
            x, w, dy, kw = conv_data(cfg)
            s, p, g = kw["stride"], kw["padding"], kw["groups"]

            def fwd(x=x, w=w, s=s, p=p, g=g):
                return np_conv_forward(x, w, s, p, g)[0]

            def fwd_bwd(x=x, w=w, dy=dy, s=s, p=p, g=g):
                _, cols = np_conv_forward(x, w, s, p, g)
                return np_conv_backward(x, w, cols, dy, s, p, g)
        else:
            x, w, dy, kw = conv_t_data(cfg)
            s, p = kw["stride"], kw["padding"]

            def fwd(x=x, w=w, s=s, p=p):
                return np_conv_t_forward(x, w, s, p)

            def fwd_bwd(x=x, w=w, dy=dy, s=s, p=p):
                np_conv_t_forward(x, w, s, p)
                return np_conv_t_backward(x, w, dy, s, p)
        work[f"{name} fwd"], work[f"{name} fwd+bwd"] = fwd, fwd_bwd
    rng = np.random.default_rng(0)
    A = rng.standard_normal((1024, 1024)).astype(np.float32)
    B = rng.standard_normal((1024, 1024)).astype(np.float32)
    work[GEMM] = lambda: np.matmul(A, B)
    return work


GEMM = "gemm 1024^3 (ceiling)"


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run_rounds(work, repeats):
    """{variant: {"fwd_bwd": [s...]}}, every workload once per round, in turn (used by the
    extras, where both sides are ours and share one process by design)."""
    for fwd, fwd_bwd in work.values():          # warm-up: compile, allocate, load BLAS
        fwd()
        fwd_bwd()
    times = {peer: {"fwd": [], "fwd_bwd": []} for peer in work}
    for _ in range(repeats):
        for peer, (fwd, fwd_bwd) in work.items():
            times[peer]["fwd"].append(timed(fwd))
            times[peer]["fwd_bwd"].append(timed(fwd_bwd))
    return times


def report(result, args):
    """GFLOP/s against the GEMM ceiling, the goals, and a plot."""
    cases = result["cases"]
    ceiling = None
    if GEMM in cases:
        ceiling = 2 * 1024**3 / cases.pop(GEMM)["numpy"]["median"] / 1e9
        print(f"NumPy float32 GEMM ceiling (1024^3, numpy worker): {ceiling:.1f} GFLOP/s")
    rows = []
    for op, name, cfg in jobs(args):
        case = f"{name} fwd+bwd"
        if case not in cases or "scratchnet" not in cases[case]:
            continue
        gf = 3 * flops(op, cfg) / cases[case]["scratchnet"]["median"] / 1e9
        row = {"op": op, "shape": name, "gflops_fwd_bwd": gf}
        if ceiling:
            row["percent_of_ceiling"] = 100 * gf / ceiling
        for peer in ("torch", "numpy"):
            if peer in cases[case]:
                row[f"x_{peer}"] = cases[case][peer]["median"] / cases[case]["scratchnet"]["median"]
        rows.append(row)
    print(f"\n{'fwd+bwd':24s}{'GFLOP/s':>9s}{'% ceil':>8s}{'x torch':>9s}{'x numpy':>9s}")
    for r in rows:
        print(f"{r['shape']:24s}{r['gflops_fwd_bwd']:9.1f}"
              f"{r.get('percent_of_ceiling', float('nan')):7.0f}%"
              f"{r.get('x_torch', float('nan')):9.2f}{r.get('x_numpy', float('nan')):9.2f}")
    with_torch = [r["x_torch"] for r in rows if "x_torch" in r]
    if with_torch:
        gm = harness.geometric_mean(with_torch)
        worst = min(rows, key=lambda r: r.get("x_torch", float("inf")))
        print(f"\nfwd+bwd vs PyTorch: geometric mean {gm:.2f} (goal >= 1.2), slowest "
              f"{worst['shape']} at {worst['x_torch']:.2f} (goal: every shape >= 0.8)")
    plot(rows, os.path.join(HERE, "results", "conv.png"))
    return {"gemm_ceiling_gflops": ceiling, "rows": rows}


def arguments(ap):
    ap.add_argument("--only", nargs="*", help="shape names to run")
    ap.add_argument("--extras", action="store_true",
                    help="run the design measurements (benchmarks/bench_conv_extras.py)")


def main():
    if "--extras" in sys.argv:
        import bench_conv_extras
        bench_conv_extras.main()
        return
    harness.main(__file__, {"scratchnet": ours, "torch": torch_side, "numpy": numpy_side},
                 name="conv", description=__doc__.splitlines()[0], add_arguments=arguments,
                 rounds=5, repeats=7, report=report)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    y = np.arange(len(rows))
    peers = [p for p in ("torch", "numpy") if any(f"x_{p}" in r for r in rows)]
    h = 0.8 / max(len(peers), 1)
    for i, p in enumerate(peers):
        ax.barh(y + (i - (len(peers) - 1) / 2) * h, [r.get(f"x_{p}", 0) for r in rows],
                height=h, label=f"{p} time / our time")
    ax.axvline(1, color="k", lw=1)
    ax.axvline(0.8, color="r", ls="--", lw=1, label="goal vs torch: 0.8")
    ax.set_yticks(y, [r["shape"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("speed ratio, forward + backward (above 1: scratchnet faster)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
