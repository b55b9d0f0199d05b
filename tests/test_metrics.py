"""Segmentation scores, VOC and COCO average precision: hand-worked cases, and agreement with
pycocotools on random detections (boxes and masks) when it is installed."""
import contextlib
import io

import numpy as np
import pytest

from scratchnet.metrics import (class_accuracy, class_iou, coco_evaluate, confusion_matrix,
                                frequency_weighted_iou, mask_iou, mean_iou, pixel_accuracy,
                                voc_ap, voc_evaluate)


def test_confusion_and_segmentation_scores_by_hand():
    pred = np.array([[0, 1], [1, 1]])
    target = np.array([[0, 1], [255, 0]])
    # counted pixels: (t0, p0), (t1, p1), (t0, p1); the 255 pixel is ignored
    conf = confusion_matrix(pred, target, num_classes=3)
    np.testing.assert_array_equal(conf, [[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    assert pixel_accuracy(conf) == pytest.approx(2 / 3)
    # class 0: 1 / (1 + 2 - 1); class 1: 1 / (2 + 1 - 1); class 2 absent: NaN, skipped
    iou = class_iou(conf)
    np.testing.assert_allclose(iou[:2], [0.5, 0.5])
    assert np.isnan(iou[2])
    assert mean_iou(conf) == pytest.approx(0.5)
    np.testing.assert_allclose(class_accuracy(conf)[:2], [0.5, 1.0])
    assert frequency_weighted_iou(conf) == pytest.approx(2 / 3 * 0.5 + 1 / 3 * 0.5)


def test_confusion_matrix_matches_a_counting_loop():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 5, (3, 17, 19))
    target = rng.integers(0, 5, (3, 17, 19))
    target[rng.uniform(size=target.shape) < 0.1] = 255
    want = np.zeros((5, 5), np.int64)
    for t, p in zip(target.ravel(), pred.ravel()):
        if t != 255:
            want[t, p] += 1
    np.testing.assert_array_equal(confusion_matrix(pred, target, 5), want)


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match=r"pixel \(0, 1\) has target 7"):
        confusion_matrix(np.zeros((2, 2), int), np.array([[0, 7], [1, 1]]), 3)
    with pytest.raises(TypeError, match="argmax"):
        confusion_matrix(np.zeros((2, 2)), np.zeros((2, 2), int), 3)
    with pytest.raises(ValueError, match="must match"):
        confusion_matrix(np.zeros((2, 2), int), np.zeros((2, 3), int), 3)


def test_voc_ap_rules_by_hand():
    rec = np.array([0.5, 0.5, 0.5, 1.0])
    prec = np.array([1.0, 0.5, 1 / 3, 0.5])
    # all points: the envelope is 1 up to recall 0.5, then 0.5 up to 1
    assert voc_ap(rec, prec) == pytest.approx(0.5 * 1 + 0.5 * 0.5)
    # 11 points: t = 0..0.5 see precision 1, t = 0.6..1 see 0.5
    assert voc_ap(rec, prec, use_07_metric=True) == pytest.approx((6 + 5 * 0.5) / 11)
    # a recall of exactly 3/10 reaches the level t = 0.3
    assert voc_ap(np.array([3 / 10]), np.array([1.0]), True) == pytest.approx(4 / 11)


def _voc_case():
    targets = [
        {"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], float),
         "labels": np.array([1, 1, 2]), "difficult": np.array([False, True, False])},
        {"boxes": np.array([[0, 0, 10, 10]], float), "labels": np.array([1])},
    ]
    preds = [
        {"boxes": np.array([[0, 0, 10, 10], [0, 0, 10, 9], [20, 20, 30, 30],
                            [40, 40, 50, 50]], float),
         "scores": np.array([0.9, 0.8, 0.7, 0.3]), "labels": np.array([1, 1, 1, 2])},
        {"boxes": np.array([[50, 50, 60, 60], [0, 0, 10, 6]], float),
         "scores": np.array([0.6, 0.5]), "labels": np.array([1, 1])},
    ]
    return preds, targets


def test_voc_evaluate_by_hand():
    preds, targets = _voc_case()
    # class 1, by score: TP (first box), FP (IoU 0.9 with the box already taken), ignored
    # (the difficult box), FP (nothing there), TP (IoU 60/100 = 0.6 with image 1's box)
    r = voc_evaluate(preds, targets)
    np.testing.assert_allclose(r["recall"][1], [0.5, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(r["precision"][1], [1.0, 0.5, 1 / 3, 0.5])
    np.testing.assert_allclose(r["scores"][1], [0.9, 0.8, 0.6, 0.5])
    assert r["ap"][1] == pytest.approx(0.75)
    assert r["ap"][2] == pytest.approx(1.0)
    assert r["map"] == pytest.approx((0.75 + 1.0) / 2)
    assert voc_evaluate(preds, targets, use_07_metric=True)["ap"][1] == \
        pytest.approx(8.5 / 11)
    # IoU 0.6 exactly at the threshold matches (>=); just above it does not
    assert voc_evaluate(preds, targets, iou_threshold=0.6)["ap"][1] == pytest.approx(0.75)
    assert voc_evaluate(preds, targets, iou_threshold=0.61)["ap"][1] == pytest.approx(0.5)


def test_voc_evaluate_masks_equal_boxes_for_rectangles():
    preds, targets = _voc_case()

    def paint(d):
        m = np.zeros((len(d["boxes"]), 64, 64), bool)
        for k, (x1, y1, x2, y2) in enumerate(d["boxes"].astype(int)):
            m[k, y1:y2, x1:x2] = True
        return dict(d, masks=m)

    r = voc_evaluate([paint(p) for p in preds], [paint(t) for t in targets], iou_type="segm")
    assert r["ap"][1] == pytest.approx(0.75)


def test_mask_iou_by_hand():
    a = np.zeros((2, 4, 4), bool)
    a[0, :2, :2] = True          # 4 pixels
    a[1, :, :] = True            # 16 pixels
    b = np.zeros((2, 4, 4), bool)
    b[0, 1:3, 1:3] = True        # 4 pixels, 1 shared with a[0]
    np.testing.assert_allclose(mask_iou(a, b), [[1 / 7, 0], [4 / 16, 0]])


def test_coco_by_hand():
    # IoU 82/100: a match at thresholds 0.5 .. 0.8 (7 of 10), a miss at 0.85 .. 0.95
    targets = [{"boxes": np.array([[0, 0, 10, 10]], float), "labels": np.array([1])}]
    preds = [{"boxes": np.array([[0, 0, 10, 8.2], [30, 30, 40, 40]], float),
              "scores": np.array([0.9, 0.4]), "labels": np.array([1, 1])}]
    r = coco_evaluate(preds, targets)
    assert r["map"] == pytest.approx(0.7)
    assert r["map_50"] == pytest.approx(1.0) and r["map_75"] == pytest.approx(1.0)
    # area 100 < 32^2: a small object; no medium or large object: -1
    assert r["map_small"] == pytest.approx(0.7)
    assert r["map_medium"] == -1 and r["map_large"] == -1
    assert r["mar_1"] == pytest.approx(0.7) and r["mar_100"] == pytest.approx(0.7)
    # the false positive ranks below the true one: precision stays 1 up to recall 1
    assert r["precision"].shape == (10, 101, 1, 4, 3)
    # (pycocotools divides by tp + fp + 2^-52, so 1 is 1 - 2.2e-16)
    np.testing.assert_allclose(r["precision"][0, :, 0, 0, 2], np.ones(101), rtol=1e-15)


def test_coco_crowd_absorbs_detections():
    # two detections inside a crowd region are neither true nor false positives
    targets = [{"boxes": np.array([[0, 0, 10, 10], [50, 50, 90, 90]], float),
                "labels": np.array([1, 1]), "iscrowd": np.array([False, True])}]
    preds = [{"boxes": np.array([[60, 60, 70, 70], [0, 0, 10, 10], [55, 55, 65, 65]], float),
              "scores": np.array([0.9, 0.8, 0.7]), "labels": np.array([1, 1, 1])}]
    assert coco_evaluate(preds, targets)["map"] == pytest.approx(1.0)


def random_scene(rng, n_images=10, size=(240, 320), n_classes=3, crowd=True, segm=False):
    """Ground truth of all sizes (small to large), jittered detections, false positives,
    tied scores, and one image with more than 100 detections."""
    H, W = size
    preds, targets = [], []
    for i in range(n_images):
        g = int(rng.integers(0, 7))
        side = np.exp(rng.uniform(np.log(3), np.log(220), (g, 2)))
        side = np.minimum(side, [W - 1, H - 1])
        xy = rng.uniform(0, 1, (g, 2)) * ([W, H] - side)
        gt = np.round(np.concatenate([xy, xy + side], axis=1), 1)
        glabels = rng.integers(1, n_classes + 1, g)
        dboxes, dlabels = [], []
        for b, c in zip(gt, glabels):
            for _ in range(int(rng.integers(0, 3))):
                w, h = b[2] - b[0], b[3] - b[1]
                dboxes.append(b + rng.normal(0, 0.06, 4) * [w, h, w, h])
                dlabels.append(c if rng.uniform() < 0.9 else rng.integers(1, n_classes + 1))
        n_fp = 120 if i == 3 else int(rng.integers(0, 6))
        for _ in range(n_fp):
            s = rng.uniform(4, 60, 2)
            p = rng.uniform(0, 1, 2) * ([W, H] - s)
            dboxes.append(np.concatenate([p, p + s]))
            dlabels.append(rng.integers(1, n_classes + 1))
        dboxes = np.array(dboxes, float).reshape(-1, 4)
        dboxes[:, 0::2] = np.clip(dboxes[:, 0::2], 0, W)
        dboxes[:, 1::2] = np.clip(dboxes[:, 1::2], 0, H)
        dboxes[:, 2:] = np.maximum(dboxes[:, 2:], dboxes[:, :2] + 1)
        scores = np.round(rng.uniform(0, 1, len(dboxes)), 2)    # ties on purpose
        t = {"boxes": gt, "labels": glabels,
             "iscrowd": (rng.uniform(size=g) < 0.15) if crowd else np.zeros(g, bool)}
        p = {"boxes": dboxes, "scores": scores, "labels": np.array(dlabels, int)}
        if segm:
            t["masks"] = _blobs(rng, gt, H, W)
            p["masks"] = _blobs(rng, dboxes, H, W)
            t["area"] = t["masks"].sum(axis=(1, 2)).astype(float)
        else:
            t["area"] = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
        preds.append(p)
        targets.append(t)
    return preds, targets


def _blobs(rng, boxes, H, W):
    """An ellipse in each box (a rectangle when the box is tiny), never empty."""
    yy, xx = np.mgrid[:H, :W] + 0.5
    masks = np.zeros((len(boxes), H, W), bool)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
        m = ((xx - cx) / max(rx, 0.5)) ** 2 + ((yy - cy) / max(ry, 0.5)) ** 2 <= 1
        if rng.uniform() < 0.5:
            m &= rng.uniform(size=m.shape) < 0.9
        if not m.any():
            m[min(int(cy), H - 1), min(int(cx), W - 1)] = True
        masks[k] = m
    return masks


def pycocotools_stats(preds, targets, iou_type, size):
    coco_mod = pytest.importorskip("pycocotools.coco")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    mask_util = pytest.importorskip("pycocotools.mask")
    H, W = size

    def rle(m):
        r = mask_util.encode(np.asfortranarray(m.astype(np.uint8)))
        return r

    images, anns, results = [], [], []
    labels = sorted({int(v) for t in targets for v in t["labels"]})
    for i, (p, t) in enumerate(zip(preds, targets), start=1):
        images.append({"id": i, "height": H, "width": W})
        for k, (b, c) in enumerate(zip(t["boxes"], t["labels"])):
            ann = {"id": len(anns) + 1, "image_id": i, "category_id": int(c),
                   "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                   "area": float(t["area"][k]), "iscrowd": int(t["iscrowd"][k])}
            if iou_type == "segm":
                ann["segmentation"] = rle(t["masks"][k])
            anns.append(ann)
        for k, (b, s, c) in enumerate(zip(p["boxes"], p["scores"], p["labels"])):
            res = {"image_id": i, "category_id": int(c), "score": float(s)}
            if iou_type == "segm":
                res["segmentation"] = rle(p["masks"][k])
            else:
                res["bbox"] = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
            results.append(res)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = coco_mod.COCO()
        gt.dataset = {"images": images, "annotations": anns,
                      "categories": [{"id": c, "name": str(c)} for c in labels]}
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = cocoeval.COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


NAMES = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1",
         "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large"]


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coco_agrees_with_pycocotools(iou_type, seed):
    size = (200, 240) if iou_type == "segm" else (240, 320)
    preds, targets = random_scene(np.random.default_rng(seed), size=size,
                                  segm=iou_type == "segm")
    ev = pycocotools_stats(preds, targets, iou_type, size)
    ours = coco_evaluate(preds, targets, iou_type=iou_type)
    np.testing.assert_allclose([ours[n] for n in NAMES], ev.stats, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["precision"], ev.eval["precision"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["recall"], ev.eval["recall"], rtol=0, atol=1e-9)
    assert -1 < ours["map"] < 1


def test_voc_and_coco_agree_at_one_threshold():
    # without difficult or crowd objects and without area limits, VOC's all-point AP at 0.5
    # and COCO's AP at 0.5 differ only in COCO's sampling at 101 recall levels
    preds, targets = random_scene(np.random.default_rng(5), crowd=False)
    voc = voc_evaluate(preds, targets, iou_threshold=0.5)["map"]
    coco = coco_evaluate(preds, targets, max_dets=(1000,), iou_thresholds=[0.5])["map"]
    assert abs(voc - coco) < 0.02
