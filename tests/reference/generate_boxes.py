"""Generate tests/reference/boxes.npz: torch outputs of torchvision's box formulas (written
in torch ops in tests/torch_boxes.py) on fixed random inputs, read by tests/test_boxes.py.

    pip install torch==2.13.0
    python tests/reference/generate_boxes.py

Stored per case: the inputs, torch's outputs and, for IoU, a cotangent and the input
gradients. MANIFEST.json records the torch and numpy versions.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from tests.torch_boxes import (torch_batched_nms, torch_box_iou, torch_decode,  # noqa: E402
                               torch_encode, torch_nms)


def boxes(rng, n, dtype, span=60.0, max_side=30.0):
    xy = rng.uniform(0, span, (n, 2))
    wh = rng.uniform(0.5, max_side, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(dtype)


def main():
    rng = np.random.default_rng(2026)
    store = {}
    for name, dtype in (("f32", np.float32), ("f64", np.float64)):
        a, b = boxes(rng, 40, dtype), boxes(rng, 30, dtype)
        ta, tb = (torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True))
        iou = torch_box_iou(torch, ta, tb)
        cot = rng.standard_normal(iou.shape).astype(dtype)
        ga, gb = torch.autograd.grad((iou * torch.from_numpy(cot)).sum(), [ta, tb])
        store.update({f"iou_{name}|a": a, f"iou_{name}|b": b,
                      f"iou_{name}|out": iou.detach().numpy(), f"iou_{name}|cot": cot,
                      f"iou_{name}|grad_a": ga.numpy(), f"iou_{name}|grad_b": gb.numpy()})
    nms_cases = 0
    for k in range(8):
        dtype = (np.float32, np.float64)[k % 2]
        n = int(rng.integers(20, 150))
        bx = boxes(rng, n, dtype, span=40.0)
        sc = rng.integers(0, 6, n).astype(dtype)        # tied scores
        idxs = rng.integers(0, 3, n)
        thr = float(rng.uniform(0.1, 0.8))
        tb, ts = torch.from_numpy(bx), torch.from_numpy(sc)
        store.update({f"nms{k}|boxes": bx, f"nms{k}|scores": sc, f"nms{k}|idxs": idxs,
                      f"nms{k}|thr": np.array(thr),
                      f"nms{k}|keep": torch_nms(torch, tb, ts, thr).numpy(),
                      f"nms{k}|batched_keep":
                          torch_batched_nms(torch, tb, ts, torch.from_numpy(idxs), thr).numpy()})
        nms_cases += 1
    weights = (10.0, 10.0, 5.0, 5.0)
    props, gts = boxes(rng, 25, np.float64), boxes(rng, 25, np.float64)
    codes = rng.normal(0, 6, (25, 8))
    store.update({"coder|proposals": props, "coder|gts": gts, "coder|codes": codes,
                  "coder|weights": np.array(weights),
                  "coder|decoded": torch_decode(torch, torch.from_numpy(codes),
                                                torch.from_numpy(props), weights).numpy(),
                  "coder|encoded": torch_encode(torch, torch.from_numpy(gts),
                                                torch.from_numpy(props), weights).numpy()})
    np.savez_compressed(os.path.join(HERE, "boxes.npz"), **store)
    path = os.path.join(HERE, "MANIFEST.json")
    manifest = json.load(open(path)) if os.path.exists(path) else {}
    manifest["boxes.npz"] = {"torch": torch.__version__, "numpy": np.__version__,
                             "generator": "tests/reference/generate_boxes.py",
                             "cases": 2 + nms_cases + 1}
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"boxes.npz: {2 + nms_cases + 1} cases")


if __name__ == "__main__":
    main()
