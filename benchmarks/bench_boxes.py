"""Box operation speed: NMS of 6,000 boxes and IoU of 2,000 x 2,000 boxes, float32.

    python benchmarks/bench_boxes.py [--rounds 5] [--repeats 7] [--no-compile]

6,000 is how many proposals Faster R-CNN's RPN keeps before NMS at training time; the boxes
are random in an 800x800 image, 16 to 300 pixels a side, and NMS runs at IoU 0.7 as the RPN
does. Peers:
  numpy   the plain NumPy versions in scratchnet.ops.boxes (box_iou_reference, broadcasting;
          nms_reference, one vectorised IoU row per kept box)
  torch   torchvision's formulas written in torch ops (box_iou as torchvision/ops/boxes.py
          writes it; NMS as the same greedy loop with one vectorised IoU row per kept box),
          when torch is installed (torchvision itself is not installable here)

Each side runs in its own processes (benchmarks/harness.py: alternating rounds, medians,
spread, the same thread count), and every side's result is checksummed (kept indices for
NMS, the IoU sum for IoU) and must agree with ours.
A last table times, in a fresh process, importing scratchnet and the first call of box_iou
and nms (float32) with an empty numba cache (cold: the kernels compile) and again with the
cache that run left (warm); skip it with --no-compile. Whichever kernel a process calls first
also pays numba's own start-up (about 1 s on the machine this was written on, warm or cold),
so the warm box_iou column is mostly that and the warm nms column is the real cache load.
Results go to benchmarks/results/boxes.json.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from tests.torch_boxes import torch_box_iou  # noqa: E402  (plain Python: needs no torch)

NMS, IOU = "nms of 6,000 boxes", "iou 2,000 x 2,000"


def make_boxes(n, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    wh = rng.uniform(16, 300, (n, 2))
    xy = rng.uniform(0, 800 - wh)
    scores = rng.uniform(size=n).astype(np.float32)
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float32), scores


def inputs():
    boxes, scores = make_boxes(6000, 0)
    a, _ = make_boxes(2000, 1)
    b, _ = make_boxes(2000, 2)
    return boxes, scores, a, b


def with_checksum(run, checksum):
    run.checksum = checksum
    return run


def numpy_like(iou, nms):
    import numpy as np
    boxes, scores, a, b = inputs()
    return {NMS: with_checksum(lambda: nms(boxes, scores, 0.7),
                               lambda k: np.asarray(k).tolist()),
            IOU: with_checksum(lambda: iou(a, b),
                               lambda r: float(np.asarray(r, np.float64).sum()))}


def ours(args):
    from scratchnet.ops import box_iou, nms
    return numpy_like(box_iou, nms)


def plain_numpy(args):
    from scratchnet.ops.boxes import box_iou_reference, nms_reference
    return numpy_like(box_iou_reference, nms_reference)


def torch_side(args):
    import torch
    boxes, scores, a, b = (torch.from_numpy(v) for v in inputs())
    return {NMS: with_checksum(lambda: torch_nms(torch, boxes, scores, 0.7),
                               lambda k: k.tolist()),
            IOU: with_checksum(lambda: torch_box_iou(torch, a, b),
                               lambda r: float(r.double().sum()))}


def torch_nms(torch, boxes, scores, thr):
    """torchvision's greedy NMS in torch ops, one vectorised IoU row per kept box (faster than
    tests/torch_boxes.py's loop over every box, which mirrors the C++ kernel line by line)."""
    order = torch.sort(scores, stable=True, descending=True)[1]
    keep = []
    while order.numel():
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        iou = torch_box_iou(torch, boxes[best][None], boxes[rest])[0]
        order = rest[iou <= thr]
    return torch.tensor(keep, dtype=torch.int64)


FIRST_CALLS = """
import time
t0 = time.perf_counter()
import numpy as np
from scratchnet.ops import box_iou, nms
t_import = time.perf_counter() - t0
b = np.array([[0, 0, 4, 4], [1, 1, 5, 5]], np.float32)
t1 = time.perf_counter()
box_iou(b, b)
t_iou = time.perf_counter() - t1
t1 = time.perf_counter()
nms(b, np.array([1, 0.5], np.float32), 0.5)
print(t_import, t_iou, time.perf_counter() - t1)
"""


def compile_times():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = {}
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache
        for label in ("cold", "warm"):
            out = subprocess.run([sys.executable, "-c", FIRST_CALLS], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()
            res[label] = dict(zip(["import_s", "box_iou_first_s", "nms_first_s"],
                                  map(float, out)))
    return res


def arguments(ap):
    ap.add_argument("--no-compile", action="store_true", help="skip the cold/warm timing")


def report(result, args):
    for case, ratio in harness.ratios(result, "numpy").items():
        line = f"{case}: {ratio:.0f}x faster than plain NumPy"
        if "torch" in result["cases"][case]:
            by = result["cases"][case]
            line += f", {by['torch']['median'] / by['scratchnet']['median']:.0f}x faster than torch ops"
        print(line)
    if args.no_compile:
        return {}
    first = compile_times()
    print(f"\n{'numba cache':<12}{'import s':>10}{'box_iou 1st s':>15}{'nms 1st s':>11}")
    for label, r in first.items():
        print(f"{label:<12}{r['import_s']:>10.2f}{r['box_iou_first_s']:>15.3f}"
              f"{r['nms_first_s']:>11.3f}")
    return {"first_calls": first}


if __name__ == "__main__":
    harness.main(__file__, {"scratchnet": ours, "numpy": plain_numpy, "torch": torch_side},
                 name="boxes", description=__doc__.splitlines()[0], add_arguments=arguments,
                 rounds=5, repeats=7, report=report)
