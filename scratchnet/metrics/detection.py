"""Detection and instance-segmentation average precision: PASCAL VOC and COCO rules.

Inputs follow torchvision's detection models (and torchmetrics' MeanAveragePrecision): one
dict per image.

    preds[i]   = {"boxes": (K, 4) xyxy, "scores": (K,), "labels": (K,) ints,
                  "masks": (K, H, W) bool, for iou_type="segm"}
    targets[i] = {"boxes": (G, 4) xyxy, "labels": (G,) ints,
                  "masks": (G, H, W) bool, for iou_type="segm",
                  "difficult": (G,) bool, VOC only, optional,
                  "iscrowd": (G,) bool, COCO only, optional,
                  "area": (G,) floats, COCO only, optional (else the box or mask area)}

A detection matches a ground-truth object when their IoU is >= the threshold (the VOC devkit
tests ovmax >= minoverlap, COCO skips ious < threshold). Boxes are continuous coordinates,
as torchvision and COCO use them: the VOC devkit's integer-pixel convention (+1 on widths
and heights) is not applied. IoU comes from scratchnet.ops.box_iou (boxes) or mask_iou.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..kernels.matching import coco_match
from ..ops.boxes import box_iou

COCO_AREA_RANGES = {"all": (0.0, 1e5 ** 2), "small": (0.0, 32.0 ** 2),
                    "medium": (32.0 ** 2, 96.0 ** 2), "large": (96.0 ** 2, 1e5 ** 2)}
"""COCO's object sizes in pixels of area: small < 32^2 <= medium < 96^2 <= large (both ends
of each range count as inside, as in pycocotools)."""

COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)


def _np(x, dtype=None):
    a = x.data if isinstance(x, Tensor) else np.asarray(x)
    return a if dtype is None else a.astype(dtype)


def mask_iou(masks1, masks2):
    """Pairwise IoU of binary masks: (N, H, W), (M, H, W) -> (N, M) float64, from pixel
    counts (0 where both masks are empty)."""
    m1, m2 = _np(masks1) != 0, _np(masks2) != 0
    if m1.ndim != 3 or m2.ndim != 3 or m1.shape[1:] != m2.shape[1:]:
        raise ValueError(f"mask_iou: expected masks (N, H, W) and (M, H, W) of one image "
                         f"size, got {m1.shape} and {m2.shape}")
    inter, area1, area2 = _mask_overlaps(m1, m2)
    union = area1[:, None] + area2[None, :] - inter
    return inter / np.where(union == 0, 1, union)


def _mask_overlaps(m1, m2):
    """Intersection pixel counts (N, M) and the areas (N,), (M,) of two mask stacks."""
    a = m1.reshape(len(m1), -1).astype(np.float64)
    b = m2.reshape(len(m2), -1).astype(np.float64)
    return a @ b.T, a.sum(axis=1), b.sum(axis=1)


def _check_lists(preds, targets, iou_type, fn):
    if len(preds) != len(targets):
        raise ValueError(f"{fn}: {len(preds)} prediction dicts for {len(targets)} target "
                         f"dicts; give one of each per image")
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"{fn}: iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    key = "boxes" if iou_type == "bbox" else "masks"
    for i, (p, t) in enumerate(zip(preds, targets)):
        for name, d, fields in (("preds", p, (key, "scores", "labels")),
                                ("targets", t, (key, "labels"))):
            missing = [f for f in fields if f not in d]
            if missing:
                raise ValueError(f"{fn}: {name}[{i}] lacks {missing} (iou_type={iou_type!r})")


def _overlap(dt, gt, iou_type, crowd=None):
    """IoU (D, G) of detections with ground truth; for crowd objects COCO divides by the
    detection's area instead of the union (a detection inside a crowd counts as covered)."""
    if len(dt) == 0 or len(gt) == 0:
        return np.zeros((len(dt), len(gt)))
    if iou_type == "bbox":
        dt, gt = dt.astype(np.float64), gt.astype(np.float64)
        iou = box_iou(dt, gt)
        if crowd is not None and crowd.any():
            lt = np.maximum(dt[:, None, :2], gt[None, :, :2])
            rb = np.minimum(dt[:, None, 2:], gt[None, :, 2:])
            wh = np.clip(rb - lt, 0, None)
            inter = wh[..., 0] * wh[..., 1]
            area = (dt[:, 2] - dt[:, 0]) * (dt[:, 3] - dt[:, 1])
            iou[:, crowd] = (inter / np.where(area == 0, 1, area)[:, None])[:, crowd]
        return iou
    inter, area_d, area_g = _mask_overlaps(dt != 0, gt != 0)
    union = area_d[:, None] + area_g[None, :] - inter
    if crowd is not None:
        union = np.where(crowd[None, :], area_d[:, None], union)
    return inter / np.where(union == 0, 1, union)


def voc_ap(recall, precision, use_07_metric: bool = False) -> float:
    """Area under a precision-recall curve, the PASCAL VOC way.

    use_07_metric=True (VOC2007): the mean over recall levels t = 0, 0.1, ..., 1 of the best
    precision at recall >= t (0 when recall never reaches t).
    use_07_metric=False (VOC2010 and later): precision made monotone (each point takes the
    best precision at any higher recall), then the exact area under that step curve,
    summed where recall changes."""
    rec = np.asarray(recall, np.float64)
    prec = np.asarray(precision, np.float64)
    if use_07_metric:
        ap = 0.0
        for t in np.arange(11) / 10:   # i / 10, so that a recall of 3/10 counts at t = 0.3
            above = prec[rec >= t]
            ap += (above.max() if above.size else 0.0) / 11
        return float(ap)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def voc_evaluate(preds, targets, iou_threshold: float = 0.5, use_07_metric: bool = False,
                 iou_type: str = "bbox"):
    """PASCAL VOC detection (or mask) AP per class, and their mean.

    Per class: all detections of the class in all images, by decreasing score (ties in
    input order); each matches the ground-truth object of its image with the highest IoU.
    IoU >= iou_threshold with an object not matched before: true positive; with an object
    already matched: false positive (a duplicate); with a "difficult" object: ignored
    (neither); below the threshold: false positive. Recall divides by the number of
    non-difficult objects. Classes with no non-difficult object are left out (their recall
    is undefined).

    Returns {"ap": {label: AP}, "map": mean AP, "precision": {label: (D,)},
    "recall": {label: (D,)}, "scores": {label: (D,)}}: the curves for plotting, one point
    per counted detection."""
    _check_lists(preds, targets, iou_type, "voc_evaluate")
    key = "boxes" if iou_type == "bbox" else "masks"
    labels = sorted({int(v) for t in targets for v in _np(t["labels"]).reshape(-1)})
    out = {"ap": {}, "precision": {}, "recall": {}, "scores": {}}
    for c in labels:
        npos = 0
        per_image = []
        for p, t in zip(preds, targets):
            tl = _np(t["labels"]).reshape(-1)
            diff = _np(t.get("difficult", np.zeros(len(tl), bool))).reshape(-1).astype(bool)
            g = tl == c
            npos += int((g & ~diff).sum())
            pl = _np(p["labels"]).reshape(-1)
            d = pl == c
            per_image.append((_np(p[key])[d], _np(p["scores"]).reshape(-1)[d],
                              _np(t[key])[g], diff[g]))
        if npos == 0:
            continue
        scores = np.concatenate([s for _, s, _, _ in per_image]).astype(np.float64)
        image_of = np.concatenate([np.full(len(s), i) for i, (_, s, _, _) in
                                   enumerate(per_image)]).astype(np.int64)
        index_in = np.concatenate([np.arange(len(s)) for _, s, _, _ in per_image]).astype(
            np.int64)
        ious = [_overlap(dt, gt, iou_type) for dt, _, gt, _ in per_image]
        taken = [np.zeros(len(gt), bool) for _, _, gt, _ in per_image]
        order = np.argsort(-scores, kind="stable")
        tp, fp, counted = [], [], []
        for k in order:
            i, j = image_of[k], index_in[k]
            row = ious[i][j]
            if row.size and row.max() >= iou_threshold:
                m = int(np.argmax(row))           # the first object with the highest IoU
                if per_image[i][3][m]:
                    continue                      # a difficult object: not counted
                hit = not taken[i][m]
                taken[i][m] = True
            else:
                hit = False
            tp.append(hit)
            fp.append(not hit)
            counted.append(scores[k])
        tps, fps = np.cumsum(tp, dtype=np.float64), np.cumsum(fp, dtype=np.float64)
        recall = tps / npos
        precision = tps / (tps + fps)      # every counted row adds 1 to one of them
        out["ap"][c] = voc_ap(recall, precision, use_07_metric)
        out["precision"][c], out["recall"][c] = precision, recall
        out["scores"][c] = np.array(counted, np.float64)
    out["map"] = float(np.mean(list(out["ap"].values()))) if out["ap"] else float("nan")
    return out


def _area(x, iou_type):
    if iou_type == "bbox":
        b = x.astype(np.float64)
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    # a (0, H, W) stack has no -1 to infer: count over the pixel axes instead
    return (x != 0).sum(axis=tuple(range(1, x.ndim))).astype(np.float64)


def _coco_image(dt, scores, gt, crowd, gt_area, iou_type, area_ranges, thresholds, max_det):
    """COCO's per-image, per-category matching (pycocotools' evaluateImg).

    For each area range: ground truth outside it (or crowd) is "ignored"; detections, best
    first and at most max_det, take in turn the unmatched object with the highest IoU >= the
    threshold, preferring objects that are not ignored (a crowd object can take any number
    of detections). A detection matched to an ignored object, or unmatched with its area
    outside the range, is ignored too.

    Returns per area range (scores (D,), matched (T, D) bool, ignored (T, D) bool,
    number of non-ignored objects), or None when the image has neither."""
    if len(dt) == 0 and len(gt) == 0:
        return None
    order = np.argsort(-scores, kind="stable")[:max_det]
    dt, scores = dt[order], scores[order]
    dt_area = _area(dt, iou_type) if len(dt) else np.zeros(0)
    ious_all = _overlap(dt, gt, iou_type, crowd)
    results = []
    for lo, hi in area_ranges:
        g_ignore = crowd | (gt_area < lo) | (gt_area > hi)
        gorder = np.argsort(g_ignore, kind="stable")     # objects that count come first
        g_ig, g_crowd = g_ignore[gorder], crowd[gorder]
        matched = np.zeros((len(thresholds), len(dt)), bool)
        ignored = np.zeros((len(thresholds), len(dt)), bool)
        coco_match(np.ascontiguousarray(ious_all[:, gorder]), np.ascontiguousarray(g_ig),
                   np.ascontiguousarray(g_crowd), thresholds, matched, ignored)
        outside = (dt_area < lo) | (dt_area > hi)
        ignored |= ~matched & outside[None, :]
        results.append((scores, matched, ignored, int((~g_ig).sum())))
    return results


def coco_evaluate(preds, targets, iou_type: str = "bbox", max_dets=(1, 10, 100),
                  iou_thresholds=None):
    """COCO average precision and recall (pycocotools' COCOeval: evaluate, accumulate,
    summarize), for boxes (iou_type="bbox") or instance masks ("segm").

    Precision is sampled at the 101 recall levels 0, 0.01, ..., 1 (each point taking the
    best precision at any higher recall), for IoU thresholds 0.5, 0.55, ..., 0.95, per
    category, per area range (all, small, medium, large) and per cap on detections per
    image (max_dets). AP averages the samples over recall, categories and thresholds;
    categories without objects that count are left out (-1 in the arrays).

    Returns a dict of the 12 numbers COCOeval.summarize prints (-1 where undefined):
    map (AP@[.5:.95], all areas, 100 dets), map_50, map_75, map_small, map_medium,
    map_large, mar_1, mar_10, mar_100 (AR at 1/10/100 dets), mar_small, mar_medium,
    mar_large; and for plotting "precision" (T, 101, K, 4, M), "recall" (T, K, 4, M),
    "iou_thresholds", "recall_thresholds", "labels" (K,) and "area_ranges"."""
    _check_lists(preds, targets, iou_type, "coco_evaluate")
    key = "boxes" if iou_type == "bbox" else "masks"
    thresholds = COCO_IOU_THRESHOLDS if iou_thresholds is None else \
        np.asarray(iou_thresholds, np.float64)
    max_dets = tuple(int(m) for m in max_dets)
    area_names = list(COCO_AREA_RANGES)
    ranges = [COCO_AREA_RANGES[a] for a in area_names]
    labels = sorted({int(v) for t in targets for v in _np(t["labels"]).reshape(-1)})
    T, R, K, A, M = len(thresholds), len(COCO_RECALL_THRESHOLDS), len(labels), len(ranges), \
        len(max_dets)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    for k, c in enumerate(labels):
        per_image = []
        for p, t in zip(preds, targets):
            tl = _np(t["labels"]).reshape(-1)
            g = tl == c
            crowd = _np(t.get("iscrowd", np.zeros(len(tl), bool))).reshape(-1).astype(bool)[g]
            gt = _np(t[key])[g]
            area = (_np(t["area"], np.float64).reshape(-1)[g] if "area" in t
                    else _area(gt, iou_type))
            d = _np(p["labels"]).reshape(-1) == c
            per_image.append(_coco_image(_np(p[key])[d],
                                         _np(p["scores"], np.float64).reshape(-1)[d], gt,
                                         crowd, area, iou_type, ranges, thresholds,
                                         max_dets[-1]))
        per_image = [e for e in per_image if e is not None]
        for a in range(A):
            for mi, cap in enumerate(max_dets):
                parts = [e[a] for e in per_image]
                n_counted = sum(part[3] for part in parts)
                if not parts or n_counted == 0:
                    continue
                scores = np.concatenate([part[0][:cap] for part in parts])
                order = np.argsort(-scores, kind="stable")
                matched = np.concatenate([part[1][:, :cap] for part in parts], axis=1)[:, order]
                ignored = np.concatenate([part[2][:, :cap] for part in parts], axis=1)[:, order]
                tps = np.cumsum(matched & ~ignored, axis=1, dtype=np.float64)
                fps = np.cumsum(~matched & ~ignored, axis=1, dtype=np.float64)
                for ti in range(T):
                    tp, fp = tps[ti], fps[ti]
                    rc = tp / n_counted
                    # pycocotools adds the spacing of 1.0 so that 0 / 0 gives 0
                    pr = tp / (tp + fp + np.spacing(1))
                    recall[ti, k, a, mi] = rc[-1] if len(rc) else 0.0
                    pr = np.maximum.accumulate(pr[::-1])[::-1] if len(pr) else pr
                    at = np.searchsorted(rc, COCO_RECALL_THRESHOLDS, side="left")
                    q = np.zeros(R)
                    reach = at < len(pr)
                    q[reach] = pr[at[reach]]
                    precision[ti, :, k, a, mi] = q
    def mean(values):
        values = values[values > -1]
        return float(values.mean()) if values.size else -1.0

    def t_index(v):
        hits = np.flatnonzero(np.isclose(thresholds, v))
        return hits[:1]

    top = max_dets.index(100) if 100 in max_dets else M - 1
    ai = {name: i for i, name in enumerate(area_names)}
    out = {
        "map": mean(precision[:, :, :, 0, top]),
        "map_50": mean(precision[t_index(0.5)][:, :, :, 0, top]),
        "map_75": mean(precision[t_index(0.75)][:, :, :, 0, top]),
        "map_small": mean(precision[:, :, :, ai["small"], top]),
        "map_medium": mean(precision[:, :, :, ai["medium"], top]),
        "map_large": mean(precision[:, :, :, ai["large"], top]),
    }
    for mi, cap in enumerate(max_dets):
        out[f"mar_{cap}"] = mean(recall[:, :, 0, mi])
    for name in ("small", "medium", "large"):
        out[f"mar_{name}"] = mean(recall[:, :, ai[name], top])
    out.update(precision=precision, recall=recall, iou_thresholds=thresholds,
               recall_thresholds=COCO_RECALL_THRESHOLDS, labels=np.array(labels),
               area_ranges=dict(COCO_AREA_RANGES), max_dets=max_dets)
    return out


PROPOSAL_COUNTS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)


def proposal_recall(proposals_per_image, targets, counts=PROPOSAL_COUNTS,
                    iou_threshold: float = 0.5):
    """Recall of region proposals against the number kept: for each c in `counts`, the
    fraction of all ground-truth boxes that some one of the first c proposals of their
    image overlaps with IoU >= iou_threshold (Uijlings et al. 2013, Hosang et al. 2015).

    proposals_per_image: one (P_i, 4) xyxy array per image, best-ranked first
    targets: one dict with "boxes" (G_i, 4) (or a (G_i, 4) array) per image
    Returns (len(counts),) float64 (NaN when there is no ground-truth box at all)."""
    if len(proposals_per_image) != len(targets):
        raise ValueError(f"proposal_recall: {len(proposals_per_image)} proposal arrays for "
                         f"{len(targets)} targets; give one of each per image")
    counts = np.asarray(counts, np.int64).reshape(-1)
    if counts.size == 0 or (counts < 0).any():
        raise ValueError(f"proposal_recall: counts must be non-negative ints, got "
                         f"{counts.tolist()}")
    first_hit = []                          # per ground-truth box: rank of its first cover
    for i, (props, t) in enumerate(zip(proposals_per_image, targets)):
        gt = _np(t["boxes"] if isinstance(t, dict) else t, np.float64).reshape(-1, 4)
        p = _np(props, np.float64)
        if p.size == 0:
            p = p.reshape(0, 4)
        if p.ndim != 2 or p.shape[1] != 4:
            raise ValueError(f"proposal_recall: proposals of image {i} must be (P, 4) xyxy, "
                             f"got shape {p.shape}")
        if len(gt) == 0:
            continue
        if len(p) == 0:
            first_hit.append(np.full(len(gt), np.iinfo(np.int64).max))
            continue
        hit = _overlap(p, gt, "bbox") >= iou_threshold      # (P, G)
        rank = np.where(hit.any(axis=0), hit.argmax(axis=0), np.iinfo(np.int64).max)
        first_hit.append(rank)
    if not first_hit:
        return np.full(len(counts), np.nan)
    first = np.concatenate(first_hit)
    return (first[None, :] < counts[:, None]).mean(axis=1)
