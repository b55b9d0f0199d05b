"""Box and mask operations: torchvision.ops' box functions and the R-CNN box coder.

Boxes are (N, 4) rows of [x1, y1, x2, y2] in pixels ("xyxy"), the format torchvision uses;
`box_convert` moves to and from [x, y, w, h] ("xywh", COCO's) and [cx, cy, w, h] ("cxcywh",
the b_x, b_y, b_w, b_h that YOLO and the localisation slides regress). Every function takes
NumPy arrays or scratchnet Tensors and returns the kind it was given.

IoU (intersection over union, the Jaccard index) of boxes A and B is
|A n B| / |A u B| = inter / (area(A) + area(B) - inter), with the intersection's width
max(0, min(x2a, x2b) - max(x1a, x1b)) and its height likewise.

Degenerate boxes. torchvision documents 0 <= x1 < x2, 0 <= y1 < y2 and checks nothing; its
box_iou returns NaN for two zero-area boxes (0/0) and nonsense for x2 < x1. Here:

- box_iou, nms and batched_nms raise ValueError for a NaN or infinite coordinate and for a
  box with x2 < x1 or y2 < y1, naming the box;
- zero-area boxes (x1 == x2 or y1 == y2) are valid: their IoU with anything is 0, also with
  another zero-area box, where torchvision's 0/0 gives NaN. In nms such a pair never
  suppresses, the same outcome as torchvision's comparison NaN > threshold;
- box_area, box_convert and clip_boxes_to_image do arithmetic only, like torchvision
  (box_area of a box with x2 < x1 is negative).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import grad_mode
from ..autograd.tensor import Tensor
from ..kernels import boxes as K

FORMATS = ("xyxy", "xywh", "cxcywh")


def _array(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _like(out, *inputs):
    """Wrap a plain result as a Tensor when any input was one (never tracked by autograd)."""
    return Tensor(out) if any(isinstance(i, Tensor) for i in inputs) else out


def _stack(parts, axis):
    if any(isinstance(p, Tensor) for p in parts):
        from .methods import stack
        return stack(parts, axis=axis)
    return np.stack(parts, axis=axis)


def _check_shape(boxes, op, name="boxes"):
    b = _array(boxes)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{op}: {name} must be an (N, 4) array of boxes, got shape "
                         f"{tuple(b.shape)}")
    if b.dtype.kind not in "biuf":
        raise TypeError(f"{op}: {name} must hold numbers, got dtype {b.dtype}")
    return b


def _check_valid(boxes, op, name="boxes"):
    """(N, 4) xyxy boxes as an ndarray, with every box finite and x1 <= x2, y1 <= y2."""
    b = _check_shape(boxes, op, name)
    if b.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(b).all(axis=1))
        if bad.size:
            k = int(bad[0])
            raise ValueError(f"{op}: {name}[{k}] = {b[k].tolist()} has a NaN or infinite "
                             f"coordinate; boxes must be finite [x1, y1, x2, y2]")
    bad = np.flatnonzero((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1]))
    if bad.size:
        k = int(bad[0])
        x1, y1, x2, y2 = b[k].tolist()
        raise ValueError(f"{op}: {name}[{k}] = [{x1:g}, {y1:g}, {x2:g}, {y2:g}] has "
                         f"x2 < x1 or y2 < y1 (width {x2 - x1:g}, height {y2 - y1:g}); boxes "
                         f"must be [x1, y1, x2, y2] with x1 <= x2 and y1 <= y2 (convert "
                         f"other formats with box_convert)")
    return b


def _float(b):
    """Integer (and half-precision) boxes compute in float32, as torch's int / int true
    division gives; float32 and float64 stay as they are."""
    return b if b.dtype in (np.float32, np.float64) else b.astype(np.float32)


def box_area(boxes):
    """Area (x2 - x1) * (y2 - y1) of each box: (N, 4) xyxy -> (N,). Differentiable on
    Tensors; integer boxes give integer areas, as in torchvision."""
    _check_shape(boxes, "box_area")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_convert(boxes, in_fmt: str, out_fmt: str):
    """Convert (N, 4) boxes between "xyxy", "xywh" and "cxcywh" (torchvision's names).
    Differentiable on Tensors. The same format in and out returns a copy."""
    for fmt in (in_fmt, out_fmt):
        if fmt not in FORMATS:
            raise ValueError(f"box_convert: unknown box format {fmt!r}; expected one of "
                             f"{', '.join(FORMATS)}")
    _check_shape(boxes, "box_convert")
    if in_fmt == out_fmt:
        return boxes * 1 if isinstance(boxes, Tensor) else np.array(boxes)
    a, b, c, d = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return _stack([a, b, c, d], axis=-1)


def box_iou_reference(boxes1, boxes2):
    """The formula in NumPy broadcasting, for reading and for checking the kernel:
    (N, 4), (M, 4) xyxy ndarrays -> (N, M) IoU (0 where the union is 0)."""
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    top_left = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = np.clip(bottom_right - top_left, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - inter
    return inter / np.where(union == 0, 1, union).astype(inter.dtype)


def _box_iou_tensors(boxes1, boxes2):
    """The formula in scratchnet ops, so that autograd differentiates it (gradients split
    at ties of max/min and pass at a clamp's bound, as torch's do for torchvision's)."""
    from .methods import as_tensor, maximum, minimum

    b1, b2 = as_tensor(boxes1), as_tensor(boxes2)
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    top_left = maximum(b1[:, None, :2], b2[:, :2])
    bottom_right = minimum(b1[:, None, 2:], b2[:, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = area1[:, None] + area2 - inter
    # two zero-area boxes: 0 / 1 instead of 0 / 0
    return inter / (union + (union.data == 0).astype(union.dtype))


def box_iou(boxes1, boxes2):
    """Pairwise IoU: boxes1 (N, 4), boxes2 (M, 4) xyxy -> (N, M).

    Differentiable when a Tensor input requires grad (the formula runs through autograd);
    otherwise a numba kernel computes it in the boxes' dtype (integers in float32)."""
    b1 = _check_valid(boxes1, "box_iou", "boxes1")
    b2 = _check_valid(boxes2, "box_iou", "boxes2")
    tracked = grad_mode.is_grad_enabled() and any(
        isinstance(b, Tensor) and b.requires_grad for b in (boxes1, boxes2))
    if tracked:
        return _box_iou_tensors(boxes1, boxes2)
    dtype = np.result_type(_float(b1).dtype, _float(b2).dtype)
    b1 = np.ascontiguousarray(b1, dtype=dtype)
    b2 = np.ascontiguousarray(b2, dtype=dtype)
    out = np.empty((len(b1), len(b2)), dtype)
    K.box_iou(b1, b2, out, dtype.type(0))
    return _like(out, boxes1, boxes2)


def clip_boxes_to_image(boxes, size):
    """Clamp x to [0, width] and y to [0, height]; size = (height, width), torchvision's
    order. (N, 4) xyxy -> (N, 4); differentiable on Tensors."""
    _check_shape(boxes, "clip_boxes_to_image")
    if len(size) != 2:
        raise ValueError(f"clip_boxes_to_image: size must be (height, width), got {size!r}")
    height, width = size
    x, y = boxes[:, 0::2], boxes[:, 1::2]
    if isinstance(boxes, Tensor):
        x, y = x.clamp(min=0, max=width), y.clamp(min=0, max=height)
    else:
        x, y = np.clip(x, 0, width), np.clip(y, 0, height)
    return _stack([x, y], axis=2).reshape(boxes.shape)


def remove_small_boxes(boxes, min_size: float):
    """Indices (K,) int64 of the boxes whose width and height are both >= min_size."""
    b = _check_shape(boxes, "remove_small_boxes")
    keep = ((b[:, 2] - b[:, 0]) >= min_size) & ((b[:, 3] - b[:, 1]) >= min_size)
    return _like(np.flatnonzero(keep).astype(np.int64), boxes)


def _nms_inputs(boxes, scores, op):
    b = _float(_check_valid(boxes, op))
    s = _array(scores)
    if s.ndim != 1 or len(s) != len(b):
        raise ValueError(f"{op}: scores must be (N,) with one score per box; boxes are "
                         f"{tuple(b.shape)}, scores {tuple(s.shape)}")
    if s.dtype.kind == "f" and np.isnan(s).any():
        k = int(np.flatnonzero(np.isnan(s))[0])
        raise ValueError(f"{op}: scores[{k}] is NaN; NMS needs every box ranked")
    return np.ascontiguousarray(b), s


def _score_order(scores):
    # torchvision's CPU kernel (torchvision/csrc/ops/cpu/nms_kernel.cpp) visits boxes in
    # scores.sort(stable=True, dim=0, descending=True) order: equal scores keep their input
    # order, so of two tied boxes the one given first is kept. Negating and sorting with a
    # stable sort is that order.
    return np.argsort(-scores.astype(np.float64), kind="stable")


def nms_reference(boxes, scores, iou_threshold):
    """Greedy NMS written out in NumPy, for reading and for checking the kernel: take the
    best remaining box, drop every box whose IoU with it is > iou_threshold, repeat.
    boxes (N, 4) xyxy, scores (N,) -> kept indices (K,) int64, best first."""
    order = list(_score_order(np.asarray(scores)))
    keep = []
    while order:
        best, rest = order[0], np.array(order[1:], dtype=np.int64)
        keep.append(best)
        if rest.size == 0:
            break
        iou = box_iou_reference(boxes[best:best + 1], boxes[rest])[0]
        order = list(rest[~(iou > iou_threshold)])
    return np.array(keep, dtype=np.int64)


def nms(boxes, scores, iou_threshold: float):
    """Non-maximum suppression (torchvision.ops.nms): visit boxes by decreasing score (ties:
    input order), keep a box unless a kept box has IoU strictly greater than iou_threshold
    with it. boxes (N, 4) xyxy, scores (N,) -> kept indices (K,) int64, best first."""
    b, s = _nms_inputs(boxes, scores, "nms")
    keep = K.nms(b, _score_order(s), np.zeros(len(b), np.int64), float(iou_threshold),
                 b.dtype.type(0))
    return _like(keep, boxes, scores)


def batched_nms(boxes, scores, idxs, iou_threshold: float):
    """NMS within each category: boxes of different idxs never suppress each other.
    boxes (N, 4), scores (N,), idxs (N,) ints -> kept indices (K,) int64 by decreasing
    score (ties: input order).

    torchvision offsets each category's boxes by idxs * (max coordinate + 1) so that one
    NMS call cannot mix them (below 1,000 boxes on CPU; a loop over categories above). The
    kernel here skips pairs of different categories instead: the same result without
    adding large offsets to the coordinates, which can round them. Equal scores come out in
    input order, as from the offset version (torchvision's per-category loop re-sorts its
    result with a sort that does not promise an order for ties)."""
    b, s = _nms_inputs(boxes, scores, "batched_nms")
    c = _array(idxs)
    if c.shape != (len(b),) or c.dtype.kind not in "biu":
        raise ValueError(f"batched_nms: idxs must be (N,) integers, one category per box; "
                         f"boxes are {tuple(b.shape)}, idxs {tuple(c.shape)} {c.dtype}")
    keep = K.nms(b, _score_order(s), np.ascontiguousarray(c, dtype=np.int64),
                 float(iou_threshold), b.dtype.type(0))
    return _like(keep, boxes, scores, idxs)


def masks_to_boxes(masks):
    """Tight box around each mask's nonzero pixels: (N, H, W) -> (N, 4) float32 xyxy, where
    x2, y2 are the last column and row inside (a one-pixel mask gives x1 == x2), as in
    torchvision. An empty mask has no box: ValueError."""
    m = _array(masks)
    if m.ndim != 3:
        raise ValueError(f"masks_to_boxes: masks must be (N, H, W), got shape "
                         f"{tuple(m.shape)}")
    out = np.zeros((m.shape[0], 4), np.float32)
    if m.size:
        empty = K.masks_to_boxes(np.ascontiguousarray(m != 0), out)
        if empty >= 0:
            raise ValueError(f"masks_to_boxes: mask {empty} has no nonzero pixel, so it has "
                             f"no box; drop empty masks first")
    return _like(out, masks)


class BoxCoder:
    """The R-CNN box parametrisation (torchvision.models.detection._utils.BoxCoder).

    A box (x, y, w, h) (centre, size) is coded relative to a reference box (xa, ya, wa, ha),
    an anchor or proposal, as

        t_x = wx (x - xa) / wa     t_y = wy (y - ya) / ha
        t_w = ww log(w / wa)       t_h = wh log(h / ha)

    with per-coordinate weights (wx, wy, ww, wh): Faster R-CNN's RPN uses (1, 1, 1, 1) and its
    box head (10, 10, 5, 5). Decoding inverts it after clamping t_w / ww and t_h / wh at
    bbox_xform_clip = log(1000 / 16), so a wild prediction cannot grow a box more than 62.5x
    (exp overflows long before that would matter otherwise). Both directions work on
    Tensors through autograd.
    """

    def __init__(self, weights=(1.0, 1.0, 1.0, 1.0), bbox_xform_clip=math.log(1000.0 / 16)):
        if len(weights) != 4:
            raise ValueError(f"BoxCoder: weights must be (wx, wy, ww, wh), got {weights!r}")
        self.weights = tuple(float(w) for w in weights)
        self.bbox_xform_clip = float(bbox_xform_clip)

    def encode_single(self, reference_boxes, proposals):
        """Targets (N, 4) = (t_x, t_y, t_w, t_h) of the boxes `reference_boxes` (N, 4) xyxy
        (the ground truth) relative to `proposals` (N, 4) xyxy (anchors / proposals)."""
        _check_shape(reference_boxes, "BoxCoder.encode", "reference_boxes")
        _check_shape(proposals, "BoxCoder.encode", "proposals")
        wx, wy, ww, wh = self.weights
        pw = proposals[:, 2] - proposals[:, 0]
        ph = proposals[:, 3] - proposals[:, 1]
        px = proposals[:, 0] + 0.5 * pw
        py = proposals[:, 1] + 0.5 * ph
        gw = reference_boxes[:, 2] - reference_boxes[:, 0]
        gh = reference_boxes[:, 3] - reference_boxes[:, 1]
        gx = reference_boxes[:, 0] + 0.5 * gw
        gy = reference_boxes[:, 1] + 0.5 * gh
        log = (lambda t: t.log()) if isinstance(gw, Tensor) or isinstance(pw, Tensor) \
            else np.log
        return _stack([wx * (gx - px) / pw, wy * (gy - py) / ph,
                       ww * log(gw / pw), wh * log(gh / ph)], axis=1)

    def encode(self, reference_boxes, proposals):
        """Per-image lists: one (N_i, 4) target array per image."""
        counts = [len(b) for b in reference_boxes]
        targets = self.encode_single(_concat(reference_boxes), _concat(proposals))
        return _split(targets, counts)

    def decode_single(self, rel_codes, boxes):
        """Boxes (N, 4k) xyxy from codes rel_codes (N, 4k) (k classes side by side, as the
        Fast R-CNN head predicts) relative to `boxes` (N, 4) xyxy."""
        codes = _array(rel_codes)
        if codes.ndim != 2 or codes.shape[1] % 4 or len(codes) != len(_array(boxes)):
            raise ValueError(f"BoxCoder.decode: rel_codes must be (N, 4k) for (N, 4) boxes; "
                             f"got rel_codes {tuple(codes.shape)} and boxes "
                             f"{tuple(_array(boxes).shape)}")
        _check_shape(boxes, "BoxCoder.decode")
        if not isinstance(boxes, Tensor):
            boxes = np.asarray(boxes).astype(codes.dtype)
        wx, wy, ww, wh = self.weights
        widths = boxes[:, 2] - boxes[:, 0]
        heights = boxes[:, 3] - boxes[:, 1]
        cx = boxes[:, 0] + 0.5 * widths
        cy = boxes[:, 1] + 0.5 * heights
        dx = rel_codes[:, 0::4] / wx
        dy = rel_codes[:, 1::4] / wy
        dw = rel_codes[:, 2::4] / ww
        dh = rel_codes[:, 3::4] / wh
        if isinstance(dw, Tensor):
            dw, dh = dw.clamp(max=self.bbox_xform_clip), dh.clamp(max=self.bbox_xform_clip)
            exp_w, exp_h = dw.exp(), dh.exp()
        else:
            dw, dh = np.minimum(dw, self.bbox_xform_clip), np.minimum(dh, self.bbox_xform_clip)
            exp_w, exp_h = np.exp(dw), np.exp(dh)
        x = dx * widths[:, None] + cx[:, None]
        y = dy * heights[:, None] + cy[:, None]
        half_w = 0.5 * (exp_w * widths[:, None])
        half_h = 0.5 * (exp_h * heights[:, None])
        out = _stack([x - half_w, y - half_h, x + half_w, y + half_h], axis=2)
        return out.reshape((len(codes), codes.shape[1]))

    def decode(self, rel_codes, boxes):
        """boxes: per-image list of (N_i, 4); rel_codes (sum N_i, 4k) -> (sum N_i, k, 4)."""
        reference = _concat(boxes)
        total = len(_array(reference))
        codes = rel_codes.reshape((total, -1)) if total > 0 else rel_codes
        out = self.decode_single(codes, reference)
        return out.reshape((total, -1, 4)) if total > 0 else out


def _concat(parts):
    if any(isinstance(p, Tensor) for p in parts):
        from .methods import cat
        return cat(list(parts), axis=0)
    return np.concatenate([np.asarray(p) for p in parts], axis=0)


def _split(x, counts):
    bounds = np.cumsum([0] + list(counts))
    return [x[bounds[i]:bounds[i + 1]] for i in range(len(counts))]
