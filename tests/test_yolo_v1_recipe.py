"""The yolo_v1 recipe and its error counts, on hand-built detections."""
import numpy as np
import pytest

from scratchnet.detection import yolo_v1 as R
from scratchnet.detection.recipes import available, get_recipe


def det(boxes, scores, labels):
    return {"boxes": np.array(boxes, np.float32).reshape(-1, 4),
            "scores": np.array(scores, np.float32), "labels": np.array(labels, np.int64)}


def gt(boxes, labels):
    return {"boxes": np.array(boxes, np.float32).reshape(-1, 4),
            "labels": np.array(labels, np.int64)}


def test_recipe_is_registered_and_builds_the_small_model():
    assert "yolo_v1" in available()
    recipe = get_recipe("yolo_v1")
    model = recipe.build(recipe.config({"hidden": 16, "width": 0.25}))
    assert (model.S, model.B, model.C, model.image_size) == (8, 2, 10, 64)
    model = recipe.build(recipe.config({"S": 4, "hidden": 16, "width": 0.25, "head": "fc"}))
    assert (model.S, model.B, model.C, model.image_size) == (4, 2, 10, 64)


def test_error_breakdown_sorts_the_top_detections_into_the_papers_kinds():
    targets = [gt([[0, 0, 10, 10], [20, 20, 40, 40]], [1, 2]), gt([[0, 0, 10, 10]], [1])]
    preds = [
        # class 1 (2 objects -> top 2 looked at): a hit, then a duplicate of it (0.8),
        # a third (0.1) is below the top 2 and not counted
        det([[0, 0, 10, 10], [0, 0, 10, 9], [50, 50, 60, 60]], [0.9, 0.8, 0.1], [1, 1, 1]),
        # class 2 (1 object, in image 0): its best detection, in image 1, covers the
        # class-1 object there: other class
        det([[0, 0, 10, 10], [20, 20, 40, 40]], [0.7, 0.6], [2, 2]),
    ]
    counts = R.error_breakdown(preds, targets)
    # class 1: correct (0.9) + localisation (duplicate 0.8); class 2: other class (0.7)
    assert counts == {"correct": 1, "localisation": 1, "other class": 1, "background": 0}
    preds[1] = det([[55, 55, 60, 60], [20, 20, 30, 40]], [0.7, 0.6], [2, 2])
    counts = R.error_breakdown(preds, targets)
    # class 2's top detection lies on nothing: background
    assert counts["background"] == 1 and counts["other class"] == 0
    # on image 0, half of the class-2 object: IoU 200 / 400 = 0.5, not > 0.5
    preds = [det([[0, 0, 10, 10], [20, 20, 30, 40]], [0.9, 0.7], [1, 2]), det([], [], [])]
    assert R.error_breakdown(preds, targets) == {"correct": 1, "localisation": 1,
                                                 "other class": 0, "background": 0}


def test_missed_objects_counts_shared_cells_and_small_objects():
    # S=2 on 64x64: centres (5, 5) and (20, 20) share cell (0, 0); (50, 50) is alone
    targets = [gt([[0, 0, 10, 10], [10, 10, 30, 30], [45, 45, 55, 55]], [1, 2, 3])]
    preds = [det([[10, 10, 30, 30], [45, 45, 55, 55]], [0.9, 0.1], [2, 3])]
    counts = R.missed_objects(preds, targets, S=2, score_threshold=0.2, small=11)
    assert counts == {"objects": 3, "found": 1, "shared_cell": 2, "shared_cell_found": 1,
                      "small": 2, "small_found": 0}


def test_recall_by_size_separates_class_confusion_from_misses():
    targets = [gt([[0, 0, 6, 5], [10, 10, 30, 30], [40, 40, 60, 60]], [1, 2, 3])]
    # the 5-px digit found with the wrong class, the 20-px one found, the other missed;
    # a detection under the score threshold does not count
    preds = [det([[0, 0, 6, 5], [10, 10, 30, 30], [40, 40, 60, 60]], [0.9, 0.8, 0.01],
                 [2, 2, 3])]
    r = R.recall_by_size(preds, targets, bins=(0, 8, 16, 32), score_threshold=0.05)
    assert r["objects"] == [1, 0, 2]
    assert r["recall"][0] == 0 and r["located"][0] == 1
    assert np.isnan(r["recall"][1])
    assert r["recall"][2] == 0.5 and r["located"][2] == 0.5
