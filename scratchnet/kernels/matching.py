"""Greedy matching of detections to ground-truth objects at several IoU thresholds, COCO's
rule (pycocotools' evaluateImg), for one image, one category and one area range."""
from __future__ import annotations

import numpy as np

from ._jit import jit


@jit
def coco_match(ious, g_ignore, g_crowd, thresholds, matched, ignored):
    """ious (D, G): detections best first, objects with the not-ignored ones first;
    g_ignore, g_crowd (G,) bool; thresholds (T,). Fills matched and ignored (T, D) bool.

    Each detection takes the object with the highest IoU >= the threshold among those not
    taken yet (a crowd object can be taken again), stopping at the ignored objects once it
    holds one that is not ignored; the detection is ignored when its object is."""
    n_det, n_gt = ious.shape
    taken = np.zeros(n_gt, np.bool_)
    for t in range(thresholds.shape[0]):
        taken[:] = False
        for d in range(n_det):
            best = min(thresholds[t], 1 - 1e-10)
            m = -1
            for g in range(n_gt):
                if taken[g] and not g_crowd[g]:
                    continue
                if m > -1 and not g_ignore[m] and g_ignore[g]:
                    break
                if ious[d, g] < best:
                    continue
                best = ious[d, g]
                m = g
            if m == -1:
                continue
            matched[t, d] = True
            ignored[t, d] = g_ignore[m]
            taken[m] = True
