"""Box operation speed: NMS of 6,000 boxes and IoU of 2,000 x 2,000 boxes, float32.

    python benchmarks/bench_boxes.py [--rounds 5] [--calls 7]

6,000 is how many proposals Faster R-CNN's RPN keeps before NMS at training time; the boxes
are random in an 800x800 image, 16 to 300 pixels a side, and NMS runs at IoU 0.7 as the RPN
does. Peers:
  numpy   the plain NumPy versions in scratchnet.ops.boxes (box_iou_reference, broadcasting;
          nms_reference, one vectorised IoU row per kept box)
  torch   torchvision's formulas written in torch ops (box_iou as torchvision/ops/boxes.py
          writes it; NMS as the same greedy loop with one vectorised IoU row per kept box),
          when torch is installed (torchvision itself is not installable here)

Each side of each workload runs in its own fresh process (so no library's idle threads or
caches touch another's timing); the processes alternate, round after round. A process does
one untimed warm-up call (numba compiles or loads its cache there), then `--calls` timed
calls, and reports their median. The table shows the median over rounds, the spread
(min-max over rounds) and the ratio peer / ours (above 1: ours is faster). Every process
also reports a checksum of its result, and the sides must agree.
A last table times, in a fresh process, importing scratchnet and the first call of box_iou
and nms (float32) with an empty numba cache (cold: the kernels compile) and again with the
cache that run left (warm); skip it with --no-compile. Whichever kernel a process calls first
also pays numba's own start-up (about 1 s on the machine this was written on, warm or cold),
so the warm box_iou column is mostly that and the warm nms column is the real cache load.
Results go to benchmarks/results/boxes.json.
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

WORKLOADS = ("nms_6000", "iou_2000x2000")
SIDES = ("ours", "numpy", "torch")


def make_boxes(n, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    wh = rng.uniform(16, 300, (n, 2))
    xy = rng.uniform(0, 800 - wh)
    scores = rng.uniform(size=n).astype(np.float32)
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float32), scores


def build(side, workload):
    """A zero-argument function running one workload on one side, and its result to a
    checksum (kept indices for NMS, the IoU sum for IoU)."""
    import numpy as np

    if workload == "nms_6000":
        boxes, scores = make_boxes(6000, 0)
    else:
        boxes, scores = make_boxes(2000, 1)
        other, _ = make_boxes(2000, 2)
    if side == "torch":
        import torch

        tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
        if workload == "nms_6000":
            return lambda: torch_nms(torch, tb, ts, 0.7), lambda k: k.tolist()
        to = torch.from_numpy(other)
        return lambda: torch_box_iou(torch, tb, to), lambda r: float(r.double().sum())
    from scratchnet.ops import box_iou, nms
    from scratchnet.ops.boxes import box_iou_reference, nms_reference

    if workload == "nms_6000":
        fn = nms if side == "ours" else nms_reference
        return lambda: fn(boxes, scores, 0.7), lambda k: np.asarray(k).tolist()
    fn = box_iou if side == "ours" else box_iou_reference
    return lambda: fn(boxes, other), lambda r: float(np.asarray(r, np.float64).sum())


def torch_box_iou(torch, b1, b2):
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    lt = torch.max(b1[:, None, :2], b2[:, :2])
    rb = torch.min(b1[:, None, 2:], b2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter / (area1[:, None] + area2 - inter)


def torch_nms(torch, boxes, scores, thr):
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


def child(side, workload, calls):
    fn, summary = build(side, workload)
    t0 = time.perf_counter()
    result = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"median": statistics.median(times), "first": first,
                      "check": summary(result)}))


def run_child(side, workload, calls):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    out = subprocess.run([sys.executable, __file__, "--child", side, workload,
                          "--calls", str(calls)], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=7)
    p.add_argument("--child", nargs=2, metavar=("SIDE", "WORKLOAD"))
    p.add_argument("--no-compile", action="store_true", help="skip the cold/warm timing")
    args = p.parse_args()
    if args.child:
        child(*args.child, args.calls)
        return
    try:
        import torch  # noqa: F401
        sides = SIDES
    except ImportError:
        sides = SIDES[:2]
    times = {(w, s): [] for w in WORKLOADS for s in sides}
    checks = {}
    for r in range(args.rounds):
        for w in WORKLOADS:
            for s in (sides if r % 2 == 0 else sides[::-1]):
                res = run_child(s, w, args.calls)
                times[w, s].append(res["median"])
                checks.setdefault(w, {})[s] = res["check"]
    for w, by_side in checks.items():
        ref = by_side["ours"]
        for s, c in by_side.items():
            same = c == ref if isinstance(c, list) else abs(c - ref) <= 1e-4 * abs(ref)
            if not same:
                raise SystemExit(f"{w}: {s} computes a different result from ours")
    rows = []
    print(f"{'workload':<16}{'side':<8}{'median ms':>11}{'spread ms':>18}{'peer/ours':>11}")
    for w in WORKLOADS:
        ours = statistics.median(times[w, "ours"])
        for s in sides:
            t = times[w, s]
            med = statistics.median(t)
            ratio = med / ours
            rows.append({"workload": w, "side": s, "median_s": med, "min_s": min(t),
                         "max_s": max(t), "ratio_vs_ours": ratio})
            print(f"{w:<16}{s:<8}{med * 1e3:>11.2f}{min(t) * 1e3:>9.2f}-{max(t) * 1e3:<8.2f}"
                  f"{ratio:>11.1f}")
    first = None if args.no_compile else compile_times()
    if first:
        print(f"\n{'numba cache':<12}{'import s':>10}{'box_iou 1st s':>15}{'nms 1st s':>11}")
        for label, r in first.items():
            print(f"{label:<12}{r['import_s']:>10.2f}{r['box_iou_first_s']:>15.3f}"
                  f"{r['nms_first_s']:>11.3f}")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "boxes.json"), "w") as f:
        json.dump({"rounds": args.rounds, "calls": args.calls, "rows": rows,
                   "first_calls": first}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
