"""Box operations: hand-worked IoU and NMS cases, the kernels against the NumPy reference,
degenerate boxes, the box coder, gradients, and live comparisons with torchvision's formulas
written in torch ops (torchvision itself is not installable here)."""
import math

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.ops import (BoxCoder, batched_nms, box_area, box_convert, box_iou,
                            clip_boxes_to_image, masks_to_boxes, nms, remove_small_boxes)
from scratchnet.ops.boxes import box_iou_reference, nms_reference
from tests.torch_boxes import (torch_batched_nms, torch_box_iou, torch_decode, torch_encode,
                                torch_nms)


def random_boxes(rng, n, dtype=np.float32, span=100.0, max_side=40.0):
    xy = rng.uniform(0, span, (n, 2))
    wh = rng.uniform(0.5, max_side, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(dtype)


def test_iou_of_known_boxes():
    a = np.array([[0, 0, 2, 2], [0, 0, 4, 4], [0, 0, 1, 1]], np.float32)
    b = np.array([[1, 1, 3, 3], [1, 1, 3, 3], [1, 0, 2, 1], [0, 0, 2, 2]], np.float32)
    # overlap 1x1 of two 2x2 boxes: 1 / (4 + 4 - 1); a box inside another: 4 / 16 and
    # 1 / 4; boxes that only touch along an edge ([0, 0, 1, 1] and [1, 0, 2, 1]): 0
    want = np.array([[1 / 7, 1 / 7, 1 / 4, 1],
                     [4 / 16, 4 / 16, 1 / 16, 4 / 16],
                     [0, 0, 0, 1 / 4]], np.float32)
    got = box_iou(a, b)
    assert got.dtype == np.float32 and got.shape == (3, 4)
    np.testing.assert_allclose(got, want, rtol=1e-7)


def test_area_and_integer_boxes():
    b = np.array([[0, 0, 2, 3], [1, 1, 4, 5]])
    np.testing.assert_array_equal(box_area(b), [6, 12])
    assert box_area(b).dtype.kind == "i"
    # integer boxes give float32 IoU, as torch's int / int division does
    iou = box_iou(b, b)
    assert iou.dtype == np.float32
    np.testing.assert_allclose(iou[0, 1], 2 / (6 + 12 - 2))


def test_kernel_agrees_with_reference():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a, b = random_boxes(rng, 70, dtype), random_boxes(rng, 55, dtype)
        a[:5] = b[:5]              # identical pairs
        a[5, 2] = a[5, 0]          # zero width
        got, ref = box_iou(a, b), box_iou_reference(a, b)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, ref)


def test_tensor_in_tensor_out():
    rng = np.random.default_rng(1)
    a, b = random_boxes(rng, 6), random_boxes(rng, 4)
    out = box_iou(sn.tensor(a), sn.tensor(b))
    assert isinstance(out, sn.Tensor)
    np.testing.assert_array_equal(out.data, box_iou(a, b))
    assert isinstance(nms(sn.tensor(a), sn.tensor(np.ones(6, np.float32)), 0.5), sn.Tensor)
    assert isinstance(box_convert(sn.tensor(a), "xyxy", "xywh"), sn.Tensor)


@pytest.mark.parametrize("fmt,want", [
    ("xywh", [[1, 2, 3, 4], [0, 0, 0, 5]]),
    ("cxcywh", [[2.5, 4, 3, 4], [0, 2.5, 0, 5]]),
    ("xyxy", [[1, 2, 4, 6], [0, 0, 0, 5]]),
])
def test_box_convert_by_hand(fmt, want):
    xyxy = np.array([[1, 2, 4, 6], [0, 0, 0, 5]], np.float64)
    np.testing.assert_allclose(box_convert(xyxy, "xyxy", fmt), want)
    np.testing.assert_allclose(box_convert(np.array(want, np.float64), fmt, "xyxy"), xyxy)


def test_box_convert_round_trips_and_rejects_unknown():
    rng = np.random.default_rng(2)
    b = random_boxes(rng, 10, np.float64)
    for src in ("xywh", "cxcywh"):
        for dst in ("xywh", "cxcywh"):
            np.testing.assert_allclose(
                box_convert(box_convert(box_convert(b, "xyxy", src), src, dst), dst, "xyxy"),
                b, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="xyxy, xywh, cxcywh"):
        box_convert(b, "xyxy", "yxyx")


def test_clip_and_remove_small():
    b = np.array([[-5, 2, 30, 50], [10, -1, 12, 3], [3, 4, 3.5, 9]], np.float64)
    np.testing.assert_array_equal(clip_boxes_to_image(b, (40, 20)),
                                  [[0, 2, 20, 40], [10, 0, 12, 3], [3, 4, 3.5, 9]])
    # widths 35, 2, 0.5 and heights 48, 4, 5: min_size 2 keeps the first two (>= counts)
    np.testing.assert_array_equal(remove_small_boxes(b, 2), [0, 1])
    np.testing.assert_array_equal(remove_small_boxes(b, 0.5), [0, 1, 2])


def test_nms_hand_worked_sequence():
    boxes = np.array([[0, 0, 10, 10],     # 0: best
                      [1, 1, 11, 11],     # 1: IoU with 0 = 81/119 = 0.68 -> suppressed
                      [20, 20, 30, 30],   # 2: far away -> kept
                      [0, 0, 10, 5],      # 3: IoU with 0 = 50/100 = 0.5 exactly
                      [21, 21, 31, 31]],  # 4: IoU with 2 = 81/119 -> suppressed
                     np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.95], np.float32)
    # order 4, 0, 1, 2, 3: 4 kept, 0 kept, 1 goes (0), 2 goes (IoU with 4 = 0.68), 3 stays
    # (0.5 is not > 0.5)
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [4, 0, 3])
    # at 0.49 box 3 goes too; at 0.7 box 1 (0.68) and box 2 stay
    np.testing.assert_array_equal(nms(boxes, scores, 0.49), [4, 0])
    np.testing.assert_array_equal(nms(boxes, scores, 0.7), [4, 0, 1, 2, 3])


def test_threshold_exactly_at_iou_does_not_suppress():
    # IoU 12/16 = 0.75 and 4/8 = 0.5 are exact in binary floating point
    for dtype in (np.float32, np.float64):
        boxes = np.array([[0, 0, 4, 4], [0, 0, 4, 3]], dtype)
        s = np.array([1, 0.5], dtype)
        np.testing.assert_array_equal(nms(boxes, s, 0.75), [0, 1])
        np.testing.assert_array_equal(nms(boxes, s, np.nextafter(0.75, 0)), [0])


def test_nms_ties_keep_input_order():
    # equal scores: visited in input order (torchvision's stable descending sort)
    a, b, c = [0, 0, 10, 10], [5, 0, 15, 10], [10, 0, 20, 10]   # a-b and b-c overlap 1/3
    s = np.ones(3, np.float32)
    np.testing.assert_array_equal(nms(np.array([a, b, c], np.float32), s, 0.3), [0, 2])
    np.testing.assert_array_equal(nms(np.array([b, a, c], np.float32), s, 0.3), [0])
    np.testing.assert_array_equal(nms(np.array([c, a, b], np.float32), s, 0.3), [0, 1])
    # two identical boxes with one score: the first given is kept
    np.testing.assert_array_equal(
        nms(np.array([a, a, a], np.float32), np.array([0.5, 0.9, 0.9], np.float32), 0.5), [1])


def test_nms_kernel_agrees_with_reference():
    rng = np.random.default_rng(3)
    for trial in range(20):
        n = int(rng.integers(1, 300))
        dtype = (np.float32, np.float64)[trial % 2]
        boxes = random_boxes(rng, n, dtype, span=60)
        scores = rng.integers(0, 8, n).astype(dtype)   # many ties
        thr = float(rng.uniform(0.05, 0.9))
        np.testing.assert_array_equal(nms(boxes, scores, thr),
                                      nms_reference(boxes, scores, thr))


def test_batched_nms_per_category():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]],
                     np.float32)
    scores = np.array([0.5, 0.9, 0.7, 0.8], np.float32)
    idxs = np.array([0, 1, 1, 0])
    # box 2 loses to box 1 (same category, IoU 0.81); box 0 is alone in category 0
    np.testing.assert_array_equal(batched_nms(boxes, scores, idxs, 0.5), [1, 3, 0])
    np.testing.assert_array_equal(batched_nms(boxes, scores, np.zeros(4, int), 0.5), [1, 3])


def test_batched_nms_equals_nms_per_class():
    rng = np.random.default_rng(4)
    boxes = random_boxes(rng, 400, span=50)
    scores = rng.uniform(size=400).astype(np.float32)
    idxs = rng.integers(0, 5, 400)
    keep = batched_nms(boxes, scores, idxs, 0.4)
    want = np.concatenate([np.flatnonzero(idxs == c)[nms(boxes[idxs == c], scores[idxs == c],
                                                         0.4)] for c in range(5)])
    want = want[np.argsort(-scores[want], kind="stable")]
    np.testing.assert_array_equal(keep, want)


def test_empty_inputs():
    e = np.zeros((0, 4), np.float32)
    assert nms(e, np.zeros(0, np.float32), 0.5).shape == (0,)
    assert box_iou(e, random_boxes(np.random.default_rng(0), 3)).shape == (0, 3)
    assert masks_to_boxes(np.zeros((0, 4, 4), bool)).shape == (0, 4)


def test_degenerate_boxes():
    zero_area = np.array([[2, 2, 2, 5], [2, 2, 2, 5], [0, 0, 4, 4]], np.float32)
    iou = box_iou(zero_area, zero_area)
    assert not np.isnan(iou).any()
    np.testing.assert_array_equal(iou, [[0, 0, 0], [0, 0, 0], [0, 0, 1]])
    # torchvision: 0/0 = NaN never exceeds the threshold, so both zero-area boxes stay
    np.testing.assert_array_equal(nms(zero_area, np.array([3, 2, 1], np.float32), 0.5),
                                  [0, 1, 2])
    with pytest.raises(ValueError, match=r"boxes1\[1\].*x2 < x1"):
        box_iou(np.array([[0, 0, 1, 1], [3, 0, 1, 1]], np.float32), zero_area)
    with pytest.raises(ValueError, match=r"boxes\[0\].*NaN"):
        nms(np.array([[0, 0, np.nan, 1]], np.float32), np.ones(1, np.float32), 0.5)
    with pytest.raises(ValueError, match="scores"):
        nms(zero_area, np.array([1, np.nan, 0], np.float32), 0.5)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        box_iou(np.zeros((3, 5)), zero_area)


def test_masks_to_boxes():
    m = np.zeros((3, 6, 7), bool)
    m[0, 1:4, 2:6] = True
    m[1, 5, 0] = True
    m[2, 0, 6] = m[2, 5, 1] = True
    np.testing.assert_array_equal(masks_to_boxes(m),
                                  [[2, 1, 5, 3], [0, 5, 0, 5], [1, 0, 6, 5]])
    assert masks_to_boxes(m).dtype == np.float32
    m[1] = False
    with pytest.raises(ValueError, match="mask 1 has no nonzero pixel"):
        masks_to_boxes(m)


def test_masks_to_boxes_agrees_with_numpy():
    rng = np.random.default_rng(11)
    m = rng.uniform(size=(30, 9, 13)) < rng.uniform(0.01, 0.3, (30, 1, 1))
    m[:, 4, 6] = True
    want = []
    for mask in m:
        ys, xs = np.nonzero(mask)
        want.append([xs.min(), ys.min(), xs.max(), ys.max()])
    np.testing.assert_array_equal(masks_to_boxes(m), want)
    np.testing.assert_array_equal(masks_to_boxes(m.astype(np.uint8) * 7), want)


def test_box_coder_by_hand():
    proposal = np.array([[0, 0, 10, 10]], np.float64)   # centre (5, 5), 10 x 10
    gt = np.array([[2, 4, 22, 14]], np.float64)         # centre (12, 9), 20 x 10
    plain = BoxCoder((1, 1, 1, 1))
    np.testing.assert_allclose(plain.encode_single(gt, proposal),
                               [[0.7, 0.4, math.log(2), 0]], atol=1e-15)
    head = BoxCoder((10, 10, 5, 5))
    codes = head.encode_single(gt, proposal)
    np.testing.assert_allclose(codes, [[7, 4, 5 * math.log(2), 0]], atol=1e-14)
    np.testing.assert_allclose(head.decode_single(codes, proposal), gt, atol=1e-12)
    # t_w = 10 is clamped at log(1000/16): the width becomes 10 * 62.5
    wild = plain.decode_single(np.array([[0, 0, 10, 0]], np.float64), proposal)
    np.testing.assert_allclose(wild, [[5 - 312.5, 0, 5 + 312.5, 10]])


def test_box_coder_lists_and_several_classes():
    rng = np.random.default_rng(5)
    coder = BoxCoder((10, 10, 5, 5))
    props = [random_boxes(rng, 3, np.float64), random_boxes(rng, 2, np.float64)]
    gts = [random_boxes(rng, 3, np.float64), random_boxes(rng, 2, np.float64)]
    targets = coder.encode(gts, props)
    assert [t.shape for t in targets] == [(3, 4), (2, 4)]
    # two classes side by side: class 0 decodes to the gt, class 1 (zeros) to the proposal
    codes = np.concatenate([np.concatenate(targets), np.zeros((5, 4))], axis=1)
    out = coder.decode(codes, props)
    assert out.shape == (5, 2, 4)
    np.testing.assert_allclose(out[:, 0], np.concatenate(gts), atol=1e-10)
    np.testing.assert_allclose(out[:, 1], np.concatenate(props), atol=1e-10)


def _gradcheck(fn, inputs):
    report = sn.gradcheck(fn, inputs)
    assert report.passed, str(report)


def test_gradients():
    rng = np.random.default_rng(6)
    a = random_boxes(rng, 5, np.float64, span=20)
    b = random_boxes(rng, 4, np.float64, span=20)
    _gradcheck(box_iou, [sn.tensor(a, requires_grad=True), sn.tensor(b, requires_grad=True)])
    _gradcheck(box_area, [sn.tensor(a, requires_grad=True)])
    for fmt in ("xywh", "cxcywh"):
        _gradcheck(lambda t: box_convert(t, "xyxy", fmt), [sn.tensor(a, requires_grad=True)])
        _gradcheck(lambda t: box_convert(t, fmt, "xyxy"), [sn.tensor(a, requires_grad=True)])
    coder = BoxCoder((10, 10, 5, 5))
    codes = rng.normal(0, 1, (5, 8))
    _gradcheck(lambda c: coder.decode_single(c, sn.tensor(a)),
               [sn.tensor(codes, requires_grad=True)])
    _gradcheck(lambda g, p: coder.encode_single(g, p),
               [sn.tensor(a, requires_grad=True), sn.tensor(a[::-1].copy(),
                                                            requires_grad=True)])
    _gradcheck(lambda t: clip_boxes_to_image(t, (15, 25)),
               [sn.tensor(a - 3.3, requires_grad=True)])


def test_tracked_iou_values_match_kernel():
    rng = np.random.default_rng(7)
    a, b = random_boxes(rng, 9), random_boxes(rng, 8)
    b[0, 2] = b[0, 0]
    tracked = box_iou(sn.tensor(a, requires_grad=True), sn.tensor(b))
    assert tracked.requires_grad and tracked.dtype == np.float32
    np.testing.assert_allclose(tracked.data, box_iou(a, b), rtol=1e-6, atol=1e-7)


def test_live_iou_and_gradients_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    for dtype in (np.float32, np.float64):
        a, b = random_boxes(rng, 40, dtype), random_boxes(rng, 30, dtype)
        np.testing.assert_array_equal(
            box_iou(a, b), torch_box_iou(torch, torch.from_numpy(a), torch.from_numpy(b)))
    a, b = random_boxes(rng, 7, np.float64, span=20), random_boxes(rng, 6, np.float64, span=20)
    cot = rng.normal(size=(7, 6))
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (torch_box_iou(torch, ta, tb) * torch.from_numpy(cot)).sum().backward()
    sa, sb = sn.tensor(a, requires_grad=True), sn.tensor(b, requires_grad=True)
    (box_iou(sa, sb) * sn.tensor(cot)).sum().backward()
    np.testing.assert_allclose(sa.grad.data, ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sb.grad.data, tb.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_live_nms_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    for trial in range(12):
        n = int(rng.integers(1, 200))
        dtype = (np.float32, np.float64)[trial % 2]
        boxes = random_boxes(rng, n, dtype, span=50)
        scores = rng.integers(0, 6, n).astype(dtype)
        idxs = rng.integers(0, 3, n)
        thr = float(rng.uniform(0.1, 0.8))
        tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
        np.testing.assert_array_equal(nms(boxes, scores, thr), torch_nms(torch, tb, ts, thr))
        np.testing.assert_array_equal(
            batched_nms(boxes, scores, idxs, thr),
            torch_batched_nms(torch, tb, ts, torch.from_numpy(idxs), thr))


def test_live_box_coder_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    weights = (10.0, 10.0, 5.0, 5.0)
    coder = BoxCoder(weights)
    props, gts = random_boxes(rng, 20, np.float64), random_boxes(rng, 20, np.float64)
    codes = rng.normal(0, 8, (20, 12))          # big enough that some t_w, t_h clamp
    np.testing.assert_allclose(
        coder.decode_single(codes, props),
        torch_decode(torch, torch.from_numpy(codes), torch.from_numpy(props), weights),
        rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(
        coder.encode_single(gts, props),
        torch_encode(torch, torch.from_numpy(gts), torch.from_numpy(props), weights),
        rtol=1e-12, atol=1e-12)


def test_stored_torch_reference():
    """Outputs of torchvision's formulas in torch, stored by tests/reference/generate_boxes.py
    (no torch needed here)."""
    import os

    ref = np.load(os.path.join(os.path.dirname(__file__), "reference", "boxes.npz"))
    for name, dtype in (("f32", np.float32), ("f64", np.float64)):
        a, b = ref[f"iou_{name}|a"], ref[f"iou_{name}|b"]
        assert a.dtype == dtype
        np.testing.assert_array_equal(box_iou(a, b), ref[f"iou_{name}|out"])
        sa, sb = sn.tensor(a, requires_grad=True), sn.tensor(b, requires_grad=True)
        (box_iou(sa, sb) * sn.tensor(ref[f"iou_{name}|cot"])).sum().backward()
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(sa.grad.data, ref[f"iou_{name}|grad_a"], rtol=tol, atol=tol)
        np.testing.assert_allclose(sb.grad.data, ref[f"iou_{name}|grad_b"], rtol=tol, atol=tol)
    k = 0
    while f"nms{k}|boxes" in ref:
        bx, sc, thr = ref[f"nms{k}|boxes"], ref[f"nms{k}|scores"], float(ref[f"nms{k}|thr"])
        np.testing.assert_array_equal(nms(bx, sc, thr), ref[f"nms{k}|keep"])
        np.testing.assert_array_equal(batched_nms(bx, sc, ref[f"nms{k}|idxs"], thr),
                                      ref[f"nms{k}|batched_keep"])
        k += 1
    assert k == 8
    coder = BoxCoder(tuple(ref["coder|weights"]))
    np.testing.assert_allclose(coder.decode_single(ref["coder|codes"], ref["coder|proposals"]),
                               ref["coder|decoded"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(coder.encode_single(ref["coder|gts"], ref["coder|proposals"]),
                               ref["coder|encoded"], rtol=1e-12, atol=1e-12)
