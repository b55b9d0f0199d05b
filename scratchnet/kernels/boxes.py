"""Box kernels: pairwise IoU, greedy non-maximum suppression, boxes around masks.

IoU and NMS compute in the boxes' own dtype, as torchvision's CPU kernels do, so a float32
IoU that lands exactly on a threshold compares the same way here and there. The callers
check the boxes first (finite, x1 <= x2, y1 <= y2).

Both inner loops are written so that LLVM vectorises them: no branch inside (float division
by zero gives NaN instead of raising, see `jit_float_division`), and the loop runs over
slices from index 0 (a loop `for j in range(i + 1, n)` indexing the full arrays was measured
5x slower: its indices are not known to be non-negative).
"""
from __future__ import annotations

import numpy as np

from ._jit import jit, jit_float_division


@jit_float_division
def box_iou(boxes1, boxes2, out, zero):
    """Pairwise IoU. boxes1 (N, 4), boxes2 (M, 4) xyxy, out (N, M), all of one dtype, and
    `zero` a 0 of that dtype (so that no step promotes float32 to float64). A union of 0
    (two zero-area boxes) gives IoU 0."""
    n = boxes1.shape[0]
    x1 = np.ascontiguousarray(boxes2[:, 0])
    y1 = np.ascontiguousarray(boxes2[:, 1])
    x2 = np.ascontiguousarray(boxes2[:, 2])
    y2 = np.ascontiguousarray(boxes2[:, 3])
    area2 = (x2 - x1) * (y2 - y1)
    for i in range(n):
        ax1, ay1, ax2, ay2 = boxes1[i, 0], boxes1[i, 1], boxes1[i, 2], boxes1[i, 3]
        area1 = (ax2 - ax1) * (ay2 - ay1)
        row = out[i]
        for j in range(x1.shape[0]):
            w = max(min(ax2, x2[j]) - max(ax1, x1[j]), zero)
            h = max(min(ay2, y2[j]) - max(ay1, y1[j]), zero)
            inter = w * h
            union = area1 + area2[j] - inter
            row[j] = inter / union if union > zero else zero
    return out


@jit_float_division
def nms(boxes, order, classes, iou_threshold, zero):
    """Greedy NMS over boxes (N, 4) xyxy visited in `order` (N,) int64 (highest score
    first). A kept box suppresses every later box of the same entry in `classes` (N,) int64
    whose IoU with it is strictly greater than iou_threshold (a float64, compared with the
    IoU in the boxes' dtype as torchvision's C++ compares its float with a double).
    `zero` is a 0 of the boxes' dtype. Returns the kept indices (K,) int64 in visiting
    order.

    A pair with a union of 0 (two zero-area boxes) never suppresses: 0/0 is NaN here as in
    torchvision, and NaN > threshold is false."""
    n = boxes.shape[0]
    # the boxes gathered in visiting order, one contiguous array per coordinate
    x1 = np.empty(n, boxes.dtype)
    y1 = np.empty(n, boxes.dtype)
    x2 = np.empty(n, boxes.dtype)
    y2 = np.empty(n, boxes.dtype)
    area = np.empty(n, boxes.dtype)
    cls = np.empty(n, np.int64)
    for a in range(n):
        k = order[a]
        x1[a], y1[a], x2[a], y2[a] = boxes[k, 0], boxes[k, 1], boxes[k, 2], boxes[k, 3]
        area[a] = (x2[a] - x1[a]) * (y2[a] - y1[a])
        cls[a] = classes[k]
    suppressed = np.zeros(n, np.bool_)
    keep = np.empty(n, np.int64)
    kept = 0
    for a in range(n):
        if suppressed[a]:
            continue
        keep[kept] = order[a]
        kept += 1
        ix1, iy1, ix2, iy2, ia, ic = x1[a], y1[a], x2[a], y2[a], area[a], cls[a]
        # every later box, suppressed or not: a branch-free loop is faster than skipping
        lx1, ly1, lx2, ly2 = x1[a + 1:], y1[a + 1:], x2[a + 1:], y2[a + 1:]
        larea, lcls, lsup = area[a + 1:], cls[a + 1:], suppressed[a + 1:]
        for b in range(lx1.shape[0]):
            w = max(min(ix2, lx2[b]) - max(ix1, lx1[b]), zero)
            h = max(min(iy2, ly2[b]) - max(iy1, ly1[b]), zero)
            inter = w * h
            over = inter / (ia + larea[b] - inter) > iou_threshold
            lsup[b] = lsup[b] | (over & (lcls[b] == ic))
    return keep[:kept]


@jit
def masks_to_boxes(masks, out):
    """Tight xyxy box of the nonzero pixels of each mask. masks (N, H, W) bool, out (N, 4);
    returns the index of the first empty mask, or -1 when none is empty."""
    n, hgt, wid = masks.shape
    for k in range(n):
        x1, y1, x2, y2 = wid, hgt, -1, -1
        for y in range(hgt):
            for x in range(wid):
                if masks[k, y, x]:
                    if x < x1:
                        x1 = x
                    if x > x2:
                        x2 = x
                    if y < y1:
                        y1 = y
                    y2 = y
        if x2 < 0:
            return k
        out[k, 0], out[k, 1], out[k, 2], out[k, 3] = x1, y1, x2, y2
    return -1
