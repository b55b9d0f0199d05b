"""Compile time as a user feels it: import scratchnet and run every kernel once.

    python benchmarks/bench_compile.py

Cold: an empty numba cache (first use after install), so every kernel is compiled.
Warm: the same again with the cache the cold run left, so kernels load from disk.
Each measurement is a fresh Python process (NUMBA_CACHE_DIR points at a temporary
directory), timing from before `import scratchnet` to after the last kernel's first call.
Goals: warm under 2 s, cold under 30 s.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import time
t0 = time.perf_counter()
import numpy as np
import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import ops
t_import = time.perf_counter() - t0
timings = {}

def once(name, fn):
    t = time.perf_counter()
    fn()
    timings[name] = time.perf_counter() - t

def fwd_bwd(fn, *shape):
    def run():
        for dtype in (np.float32,):
            x = sn.tensor(np.random.default_rng(0).standard_normal(shape).astype(dtype),
                          requires_grad=True)
            out = fn(x)
            out = out[0] if isinstance(out, tuple) else out
            out.sum().backward()
    return run

w = sn.randn(4, 3, 3, 3)
wt = sn.randn(3, 4, 3, 3)
once("conv2d", fwd_bwd(lambda x: F.conv2d(x, w, padding=1), 2, 3, 8, 8))
w5 = sn.randn(16, 3, 5, 5)
once("conv2d_direct", fwd_bwd(lambda x: F.conv2d(x, w5, padding=2), 2, 3, 32, 32))
once("conv_transpose2d", fwd_bwd(lambda x: F.conv_transpose2d(x, wt, stride=2), 2, 3, 5, 5))
once("max_pool2d", fwd_bwd(lambda x: F.max_pool2d(x, 2), 2, 3, 8, 8))
def unpool(x):
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    return F.max_unpool2d(y, idx, 2)
once("max_unpool2d", fwd_bwd(unpool, 2, 3, 8, 8))
once("avg_pool2d", fwd_bwd(lambda x: F.avg_pool2d(x, 2), 2, 3, 8, 8))
once("adaptive_avg_pool2d", fwd_bwd(lambda x: F.adaptive_avg_pool2d(x, 3), 2, 3, 8, 8))
once("adaptive_max_pool2d", fwd_bwd(lambda x: F.adaptive_max_pool2d(x, 3), 2, 3, 8, 8))
once("interpolate_nearest", fwd_bwd(lambda x: F.interpolate(x, scale_factor=2), 2, 3, 4, 4))
once("interpolate_bilinear", fwd_bwd(
    lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False), 2, 3, 4, 4))
boxes = sn.tensor([[0, 0.0, 0.0, 6.0, 5.0], [1, 1.0, 2.0, 7.0, 7.0]])
once("roi_pool", fwd_bwd(lambda x: ops.roi_pool(x, boxes, 2), 2, 3, 8, 8))
once("roi_align", fwd_bwd(lambda x: ops.roi_align(x, boxes, 2, sampling_ratio=2), 2, 3, 8, 8))
b = np.array([[0, 0, 4, 4], [1, 1, 5, 5]], np.float32)
once("box_iou", lambda: ops.box_iou(b, b))
once("nms", lambda: ops.nms(b, np.array([1, 0.5], np.float32), 0.5))
once("masks_to_boxes", lambda: ops.masks_to_boxes(np.ones((1, 3, 3), bool)))
from scratchnet import metrics
once("confusion_matrix", lambda: metrics.confusion_matrix(np.zeros((2, 2), np.int64),
                                                          np.zeros((2, 2), np.int64), 2))
once("coco_evaluate", lambda: metrics.coco_evaluate(
    [{"boxes": b, "scores": np.array([1.0, 0.5]), "labels": np.array([1, 1])}],
    [{"boxes": b[:1], "labels": np.array([1])}]))
total = time.perf_counter() - t0
import json, sys
json.dump({"import": t_import, "kernels": timings, "total": total}, sys.stdout)
"""


def run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout)


def main():
    with tempfile.TemporaryDirectory() as cache:
        cold = run(cache)
        warm = run(cache)
    print(f"{'':22}{'cold (s)':>10}{'warm (s)':>10}")
    print(f"{'import scratchnet':22}{cold['import']:10.2f}{warm['import']:10.2f}")
    for name in cold["kernels"]:
        print(f"  {name:20}{cold['kernels'][name]:10.2f}{warm['kernels'][name]:10.3f}")
    print(f"{'total':22}{cold['total']:10.2f}{warm['total']:10.2f}")
    print(f"goals: warm < 2 s ({'met' if warm['total'] < 2 else 'NOT met'}), "
          f"cold < 30 s ({'met' if cold['total'] < 30 else 'NOT met'})")
    out = os.path.join(os.path.dirname(__file__), "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "compile.json"), "w") as f:
        json.dump({"cold": cold, "warm": warm}, f, indent=2)


if __name__ == "__main__":
    main()
