"""The YOLO v1 recipe behind `scratchnet detect train yolo_v1`: the small YOLO v1
(scratchnet.models.detection.yolo_v1_small) on 64x64 DigitScenes, trained end to end by the
shared loop with the paper's loss.

Settings of its own: S (grid), B (boxes per cell), head ("fc", the paper's fully connected
layers, or "conv", the same two layers applied cell by cell), hidden (their hidden units),
width (channel multiplier), batch_norm, dropout, score_thresh and nms_thresh (decoding).
Kept from the paper: leaky ReLU 0.1, the grid output, the sum-squared loss with
lambda_coord = 5 and lambda_noobj = 0.5, the test-time score class probability x confidence,
NMS. Changed for training from scratch on one core in minutes rather than a week of ImageNet
pretraining, each measured (see the model module): batch normalisation after each convolution
(YOLO v2's change), the cell-by-cell head, no dropout, Adam instead of SGD, a cosine schedule
instead of the paper's steps.

How the training settings were found (held-out mAP@0.5 on the 300 test scenes, one thread of
a 2-core machine shared with other jobs). The earlier default, 8,000 scenes seen 16 times in
batches of 32 at Adam's lr 0.001, reached 0.569, and 204 of its 706 top detections named the
wrong digit. Short runs (2,000 scenes, 6 epochs) asked why: as it was, 0.165; a stride-1 first
convolution and a 3x3 layer at 32x32 (finer features for the small digits, 19.3 M
multiply-adds, 36% more time per image) 0.148, no better, so the resolution of the cell
features is not what misreads the digits; lr 0.003 0.286, lr 0.01 0.070 (the class term stalls
at the uniform answer); batches of 8 (four times the updates for about the same time per
scene) 0.290, and 0.358 with lr 0.003. The class term is what learns slowly: its loss per
object stays near the uniform answer's 0.9 for the first epochs, and more updates move it
where a finer map does not. Batches of 8 at lr 0.003 over 8,000 scenes seen 20 times reached
0.661, but 0.776 on its own training scenes and 0.595 on new scenes drawn from the same
training digits: it had learnt its scenes by heart. DigitScenes draws a new scene for every
index, so the default draws 32,000 and sees each 5 times: the same 160,000 scenes through the
network and 20,000 updates, 0.777 held out and 0.720 on its own training scenes.

Measured (the default recipe, one thread, shared machine, so the times are noisy): 213,412
parameters, 16.5 M multiply-adds; 1,829 s of training; held-out mAP@0.5 0.777 on the 300
test scenes (706 digits). The paper's error analysis on them: of the 706 top-scoring
detections, 501 correct, 51 localisation errors, 139 of another class, 15 on background: the
class is still the main error (139 of 205; 204 of 305 before). Recall (score >= 0.05) by
digit height: 0.59 under 8 pixels (204 digits, 29%), 0.89 at 8-12, 0.94-0.98 above 12; a box
of any class finds 0.79 of the digits under 8 pixels.
No two digit centres share a grid cell at S = 7 or 8 (DigitScenes keeps digits apart), so that
limit of YOLO costs nothing here. Against Faster R-CNN (default recipe, mAP@0.5 0.814) on the
same scenes, `python benchmarks/bench_detectors.py --threads 1 --yolo-checkpoint ...
--faster-checkpoint ...` (both trained, each in its own processes, one image at a time, other
jobs on the machine) measured 448 against 137 images per second, 3.28x as fast, 0.04 lower in
mAP (a second run: 515 against 118, 4.39x; with Faster R-CNN freshly initialised and the
machine heavily loaded, 156 against 49, 3.20x). The earlier default had 3.03x (483 against
159): the network is the same, and detection now folds each BatchNorm into its convolution
(5% less time per image).
"""
from __future__ import annotations

import time

import numpy as np

from .recipes import Recipe


def build(config):
    from ..models.detection.yolo_v1 import yolo_v1_small

    return yolo_v1_small(num_classes=11, S=int(config["S"]), B=int(config["B"]),
                         in_channels=int(config["in_channels"]), width=float(config["width"]),
                         hidden=int(config["hidden"]), batch_norm=bool(config["batch_norm"]),
                         dropout=float(config["dropout"]), head=str(config["head"]),
                         score_thresh=float(config["score_thresh"]),
                         nms_thresh=float(config["nms_thresh"]))


DEFAULTS = {
    "S": 8, "B": 2, "head": "conv", "hidden": 256, "width": 1.0, "batch_norm": True,
    "dropout": 0.0, "score_thresh": 0.005, "nms_thresh": 0.5,
    "epochs": 5, "batch_size": 8, "optimizer": "adam", "lr": 0.003, "num_train": 32000,
}

RECIPE = Recipe("yolo_v1", "YOLO v1, one network, one pass: an S x S x (B*5 + C) grid "
                           "regressed with the paper's sum-squared loss",
                build, DEFAULTS)


ERROR_KINDS = ("correct", "localisation", "other class", "background")


def error_breakdown(preds, targets):
    """The paper's error analysis (its section 4.2, after Hoiem et al.): for each class, the
    top N detections of the class over all images (N = its number of objects), each put in
    one kind by its IoU with the objects of its image:

        correct       right class, IoU > 0.5 with an object of its class
        localisation  right class, 0.1 < IoU < 0.5 (or a duplicate of a found object)
        other class   IoU > 0.1 with an object of another class
        background    IoU < 0.1 with every object

    preds, targets: lists of dicts (the detection contract). Returns {kind: count}."""
    from ..ops.boxes import box_iou

    counts = dict.fromkeys(ERROR_KINDS, 0)
    labels = sorted({int(v) for t in targets for v in np.asarray(t["labels"]).reshape(-1)})
    for c in labels:
        n_objects = sum(int((np.asarray(t["labels"]) == c).sum()) for t in targets)
        rows = [(float(s), i, k) for i, p in enumerate(preds)
                for k, s in enumerate(np.asarray(p["scores"])) if int(p["labels"][k]) == c]
        rows.sort(key=lambda r: -r[0])
        taken = [np.zeros(len(t["labels"]), bool) for t in targets]
        for _, i, k in rows[:n_objects]:
            gt_boxes = np.asarray(targets[i]["boxes"], np.float32).reshape(-1, 4)
            gt_labels = np.asarray(targets[i]["labels"]).reshape(-1)
            if len(gt_boxes) == 0:
                counts["background"] += 1
                continue
            iou = box_iou(np.asarray(preds[i]["boxes"][k:k + 1], np.float32), gt_boxes)[0]
            same = gt_labels == c
            best_same = iou[same].max() if same.any() else 0.0
            if best_same > 0.5:
                m = np.flatnonzero(same)[np.argmax(iou[same])]
                if not taken[i][m]:
                    taken[i][m] = True
                    counts["correct"] += 1
                else:
                    counts["localisation"] += 1
            elif best_same > 0.1:
                counts["localisation"] += 1
            elif (iou[~same] > 0.1).any():
                counts["other class"] += 1
            else:
                counts["background"] += 1
    return counts


def missed_objects(preds, targets, S, image_size=(64, 64), score_threshold=0.2, small=8):
    """Why objects are missed: an object counts as found when a detection of its class with
    score >= score_threshold has IoU >= 0.5 with it. Among all objects, counts

        objects, found;
        shared_cell: objects whose centre falls in a grid cell that also holds the centre of
                     another object (YOLO v1 learns one object per cell: the larger), and
                     how many of them were found (shared_cell_found);
        small: objects under `small` pixels high, and small_found.

    Returns a dict of these counts."""
    from ..ops.boxes import box_iou

    out = dict.fromkeys(("objects", "found", "shared_cell", "shared_cell_found", "small",
                         "small_found"), 0)
    for p, t in zip(preds, targets):
        boxes = np.asarray(t["boxes"], np.float32).reshape(-1, 4)
        labels = np.asarray(t["labels"]).reshape(-1)
        if len(boxes) == 0:
            continue
        size = np.asarray(image_size, np.float32)            # (H, W)
        frac_c = ((boxes[:, :2] + boxes[:, 2:]) / 2) / size[::-1]
        cells = np.clip(np.floor(frac_c * S), 0, S - 1).astype(int)
        keep = np.asarray(p["scores"]) >= score_threshold
        pb = np.asarray(p["boxes"], np.float32)[keep]
        pl = np.asarray(p["labels"])[keep]
        iou = box_iou(boxes, pb) if len(pb) else np.zeros((len(boxes), 0))
        for k in range(len(boxes)):
            found = bool(((iou[k] >= 0.5) & (pl == labels[k])).any())
            shared = bool(((cells == cells[k]).all(axis=1).sum()) > 1)
            tiny = bool(boxes[k, 3] - boxes[k, 1] < small)
            out["objects"] += 1
            out["found"] += found
            out["shared_cell"] += shared
            out["shared_cell_found"] += shared and found
            out["small"] += tiny
            out["small_found"] += tiny and found
    return out


def images_per_second(model, images, repeats=1):
    """Detection speed as the papers quote it: eval-mode forward passes one image at a time
    (decoding and NMS included), images (N, C, H, W) -> images per second (the median over
    `repeats` passes through all N images, after one untimed warm-up image)."""
    from .engine import predict

    data = np.asarray(getattr(images, "data", images), np.float32)
    predict(model, data[:1])
    rates = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        for i in range(len(data)):
            predict(model, data[i:i + 1])
        rates.append(len(data) / (time.perf_counter() - t0))
    return float(np.median(rates))


def plot_speed_accuracy(points, path=None, title="speed / accuracy on DigitScenes"):
    """Deck 000's chart for our detectors: mAP@0.5 against images per second (log scale).
    points: {name: (images per second, mAP)} (a NaN mAP is drawn at the bottom, hollow,
    "mAP pending"). Saves to `path` when given; returns the figure."""
    from ..plotting import _plt, _save

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for k, (name, (speed, m)) in enumerate(points.items()):
        pending = not np.isfinite(m)
        y = 0.0 if pending else m
        ax.plot(speed, y, "o", ms=9, color=f"C{k}", mfc="none" if pending else f"C{k}")
        ax.annotate(name + (" (mAP pending)" if pending else f" {m:.2f}"), (speed, y),
                    textcoords="offset points", xytext=(6, 6))
    ax.set_xscale("log")
    speeds = [s for s, _ in points.values()]
    lo, hi = min(speeds) / 3, max(speeds) * 3
    ax.set_xlim(lo, hi)
    # plain numbers at 1-2-5 steps instead of matplotlib's crowded 2x10^1 minor labels
    ticks = [m * 10.0 ** e for e in range(-2, 6) for m in (1, 2, 5) if lo <= m * 10.0 ** e <= hi]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xticks([], minor=True)
    ax.set(xlabel="images per second (one at a time, log scale)", ylabel="mAP@0.5",
           ylim=(-0.05, 1.0), title=title)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    if path:
        _save(fig, path)
    return fig


SIZE_BINS = (0, 8, 12, 16, 24, 32, 64)


def recall_by_size(preds, targets, bins=SIZE_BINS, score_threshold=0.05):
    """Recall of the objects binned by box height in pixels (bins[k] <= h < bins[k + 1]):
    "recall" counts an object found when a detection of its class with score >=
    score_threshold has IoU >= 0.5 with it; "located" when a detection of any class does
    (so located - recall is what class confusion costs). Returns {"bins", "objects",
    "recall", "located"}, one entry per bin (NaN for an empty bin)."""
    from ..ops.boxes import box_iou

    k = len(bins) - 1
    n, hit, loc = np.zeros(k), np.zeros(k), np.zeros(k)
    for p, t in zip(preds, targets):
        boxes = np.asarray(t["boxes"], np.float32).reshape(-1, 4)
        labels = np.asarray(t["labels"]).reshape(-1)
        keep = np.asarray(p["scores"]) >= score_threshold
        pb = np.asarray(p["boxes"], np.float32).reshape(-1, 4)[keep]
        pl = np.asarray(p["labels"]).reshape(-1)[keep]
        iou = box_iou(boxes, pb) if len(pb) and len(boxes) else np.zeros((len(boxes), 0))
        for j in range(len(boxes)):
            b = np.searchsorted(bins, boxes[j, 3] - boxes[j, 1], side="right") - 1
            if not 0 <= b < k:
                continue
            n[b] += 1
            hit[b] += bool(((iou[j] >= 0.5) & (pl == labels[j])).any())
            loc[b] += bool((iou[j] >= 0.5).any())
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"bins": list(bins), "objects": n.astype(int).tolist(),
                "recall": (hit / n).tolist(), "located": (loc / n).tolist()}
