"""Targets shared by the segmentation and detection datasets.

A detection/segmentation example is `(image, target)`, torchvision's layout, where target is
a dict of ndarrays:

    boxes    (K, 4) float32  xyxy in pixel-edge coordinates: a box around columns x1..x2-1
                             and rows y1..y2-1 is [x1, y1, x2, y2], so x2 - x1 counts pixels
    labels   (K,)   int64    class of each object (0 is background, never an object)
    masks    (K, H, W) bool  one mask per object
    semantic (H, W) uint8    class per pixel, 255 = ignore
"""
from __future__ import annotations

import numpy as np

IGNORE_INDEX = 255


def boxes_from_masks(masks) -> np.ndarray:
    """(K, H, W) bool -> (K, 4) float32 xyxy pixel-edge boxes [x1, y1, x2, y2] with x2, y2 one
    past the last foreground column/row. An empty mask gives [0, 0, 0, 0].

    (torchvision.ops.masks_to_boxes returns the last column itself, x2 = max index; the
    datasets use edges so that a 1-pixel object has width 1, as COCO's [x, y, w, h] does.)
    """
    masks = np.asarray(masks, dtype=bool)
    boxes = np.zeros((masks.shape[0], 4), dtype=np.float32)
    for k, m in enumerate(masks):
        rows = np.flatnonzero(m.any(axis=1))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(m.any(axis=0))
        boxes[k] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return boxes


def masks_from_label_image(labels):
    """(H, W) integer instance-label image (0 = background) -> (ids (K,), masks (K, H, W)),
    ids in increasing order."""
    labels = np.asarray(labels)
    ids = np.unique(labels)
    ids = ids[ids != 0]
    return ids, labels[None] == ids[:, None, None]


def empty_target(height, width):
    return {"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64),
            "masks": np.zeros((0, height, width), bool),
            "semantic": np.zeros((height, width), np.uint8)}
