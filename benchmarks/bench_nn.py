"""Speed of the nn layer ops and losses, ours vs PyTorch CPU, forward + backward through the
public API (module call, autograd bookkeeping included), float32.

    python benchmarks/bench_nn.py [--rounds 5] [--repeats 9]

Workloads (AlexNet/VGG-sized where the course uses them):
  linear        (256, 4096) -> 1000, the fc8 layer; GFLOP/s next to NumPy's own GEMM
  batch_norm2d  (32, 64, 56, 56) training mode
  lrn           AlexNet's LRN(5) on (32, 96, 55, 55)
  dropout       p=0.5 on (256, 4096)
  cross_entropy (256, 1000) logits; and FCN-style (8, 21, 64, 64) with ignore_index
  mse_loss      SRCNN-sized (16, 1, 128, 128)
  smooth_l1     (2048, 4) box deltas
Each library runs in its own processes (benchmarks/harness.py: alternating rounds, medians,
the same thread count); the numpy side times NumPy's own three GEMMs of fc8, the ceiling of
the linear layer. Results go to benchmarks/results/nn.json.
"""
from __future__ import annotations

import numpy as np

import harness

FC8_FLOPS = 3 * 2 * 256 * 4096 * 1000


def _rng_arrays():
    rng = np.random.default_rng(0)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    return {
        "fc_x": f(256, 4096), "fc_w": f(1000, 4096) * 0.01, "fc_b": f(1000), "fc_g": f(256, 1000),
        "bn_x": f(32, 64, 56, 56), "bn_g": f(32, 64, 56, 56),
        "lrn_x": f(32, 96, 55, 55), "lrn_g": f(32, 96, 55, 55),
        "do_x": f(256, 4096), "do_g": f(256, 4096),
        "ce_x": f(256, 1000), "ce_t": rng.integers(0, 1000, 256),
        "seg_x": f(8, 21, 64, 64),
        "seg_t": np.where(rng.random((8, 64, 64)) < 0.1, 255,
                          rng.integers(0, 21, (8, 64, 64))),
        "sr_x": f(16, 1, 128, 128), "sr_y": f(16, 1, 128, 128),
        "box_x": f(2048, 4), "box_y": f(2048, 4),
    }


def ours(args):
    import scratchnet as sn
    import scratchnet.nn.functional as F
    from scratchnet import nn
    a = _rng_arrays()

    def leaf(k):
        return sn.tensor(a[k], requires_grad=True)

    fc = nn.Linear(4096, 1000)
    fc.load_state_dict({"weight": a["fc_w"], "bias": a["fc_b"]})
    bn = nn.BatchNorm2d(64)
    lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    drop = nn.Dropout(0.5)
    x = {k: leaf(k) for k in ("fc_x", "bn_x", "lrn_x", "do_x", "ce_x", "seg_x", "sr_x",
                              "box_x")}
    t = {k: sn.tensor(a[k]) for k in ("ce_t", "seg_t", "sr_y", "box_y")}

    def step(make, grad=None):
        def run():
            out = make()
            out.backward(grad) if grad is not None else out.backward()
        return run

    return {
        "linear fc8 fwd+bwd": step(lambda: fc(x["fc_x"]), a["fc_g"]),
        "batch_norm2d train fwd+bwd": step(lambda: bn(x["bn_x"]), a["bn_g"]),
        "lrn(5) fwd+bwd": step(lambda: lrn(x["lrn_x"]), a["lrn_g"]),
        "dropout(0.5) fwd+bwd": step(lambda: drop(x["do_x"]), a["do_g"]),
        "cross_entropy (256,1000)": step(lambda: F.cross_entropy(x["ce_x"], t["ce_t"])),
        "cross_entropy seg ignore": step(
            lambda: F.cross_entropy(x["seg_x"], t["seg_t"], ignore_index=255)),
        "mse_loss SRCNN": step(lambda: F.mse_loss(x["sr_x"], t["sr_y"])),
        "smooth_l1 boxes": step(lambda: F.smooth_l1_loss(x["box_x"], t["box_y"])),
    }


def torch_side(args):
    import torch
    a = _rng_arrays()
    tnn, TF = torch.nn, torch.nn.functional

    def leaf(k):
        return torch.tensor(a[k], requires_grad=True)

    fc = tnn.Linear(4096, 1000)
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(a["fc_w"]))
        fc.bias.copy_(torch.from_numpy(a["fc_b"]))
    bn = tnn.BatchNorm2d(64)
    lrn = tnn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    drop = tnn.Dropout(0.5)
    x = {k: leaf(k) for k in ("fc_x", "bn_x", "lrn_x", "do_x", "ce_x", "seg_x", "sr_x",
                              "box_x")}
    t = {k: torch.from_numpy(a[k]) for k in ("ce_t", "seg_t", "sr_y", "box_y")}
    g = {k: torch.from_numpy(a[k]) for k in ("fc_g", "bn_g", "lrn_g", "do_g")}

    def step(make, grad=None):
        def run():
            out = make()
            out.backward(grad) if grad is not None else out.backward()
        return run

    return {
        "linear fc8 fwd+bwd": step(lambda: fc(x["fc_x"]), g["fc_g"]),
        "batch_norm2d train fwd+bwd": step(lambda: bn(x["bn_x"]), g["bn_g"]),
        "lrn(5) fwd+bwd": step(lambda: lrn(x["lrn_x"]), g["lrn_g"]),
        "dropout(0.5) fwd+bwd": step(lambda: drop(x["do_x"]), g["do_g"]),
        "cross_entropy (256,1000)": step(lambda: TF.cross_entropy(x["ce_x"], t["ce_t"])),
        "cross_entropy seg ignore": step(
            lambda: TF.cross_entropy(x["seg_x"], t["seg_t"], ignore_index=255)),
        "mse_loss SRCNN": step(lambda: TF.mse_loss(x["sr_x"], t["sr_y"])),
        "smooth_l1 boxes": step(lambda: TF.smooth_l1_loss(x["box_x"], t["box_y"])),
    }


def numpy_side(args):
    """The ceiling of the linear layer: NumPy's own forward and two backward GEMMs of fc8."""
    a = _rng_arrays()
    gx, gw, gy = a["fc_x"], a["fc_w"], a["fc_g"]
    return {"linear fc8 fwd+bwd": lambda: (gx @ gw.T, gy @ gw, gy.T @ gx)}


def report(result, args):
    fc8 = result["cases"]["linear fc8 fwd+bwd"]
    line = f"linear fc8: {FC8_FLOPS / fc8['scratchnet']['median'] / 1e9:.1f} GFLOP/s ours"
    if "numpy" in fc8:
        line += f"; NumPy's own three GEMMs {FC8_FLOPS / fc8['numpy']['median'] / 1e9:.1f}"
    print(line)
    return {}


if __name__ == "__main__":
    harness.main(__file__, {"scratchnet": ours, "torch": torch_side, "numpy": numpy_side},
                 name="nn", description=__doc__.splitlines()[0], rounds=5, repeats=9,
                 report=report)
