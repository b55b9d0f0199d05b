"""RoI pool and RoI align beyond the stored cases: the slow loop reference on what PyTorch
cannot reach (border crossings, boxes smaller than a bin, C rounding of .5, empty bins, many
boxes), live PyTorch comparisons, the deck's bins, the torchvision quirks, errors."""
import math

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.kernels import roi as K
from scratchnet.ops import roi_align, roi_pool, roi_pool_bins
from tests import roi_reference as ref

DTYPES = [np.float64, np.float32]
IDS = ["f64", "f32"]


def _run(op, x, rois, cot, **kw):
    """(output, d<output, cot>/dx) of scratchnet's op."""
    xt = sn.tensor(x, requires_grad=True)
    out = op(xt, sn.tensor(rois), **kw)
    (out * sn.tensor(cot.astype(x.dtype))).sum().backward()
    return out.data, xt.grad.data


def _boxes(rng, k, n_images, h, w, scale, lo=-0.3, hi=1.3, size=(0.05, 0.9)):
    """k random boxes in image pixels on maps of h x w at `scale`: corners anywhere in
    [lo, hi] of the map, so some cross the border, some lie outside."""
    H, W = h / scale, w / scale
    x1 = rng.uniform(lo * W, hi * W, k)
    y1 = rng.uniform(lo * H, hi * H, k)
    x2 = x1 + rng.uniform(*size, k) * W
    y2 = y1 + rng.uniform(*size, k) * H
    return np.stack([rng.integers(0, n_images, k), x1, y1, x2, y2], axis=1)


def _tol(dtype):
    return dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)


# -- RoI pool against the slow reference -------------------------------------------------------
def _pool_scenarios():
    rng = np.random.default_rng(7)
    halves = np.array([[0, 8, 24, 104, 136], [1, -8, 40, 56, 72], [0, 72, -24, 152, 40],
                       [1, 24, 8, 88, 200], [0, 40, 40, 40, 40]], float)
    many = _boxes(rng, 40, 3, 9, 11, 0.25)
    many[::7, 3] = many[::7, 1] - 4           # some malformed boxes: x2 < x1
    return {
        # corners ending in .5 at 1/16, both signs: C rounding differs from np.round here
        "scale_16_halves": (halves, (7, 11), 1 / 16, (3, 4)),
        "border": (_boxes(rng, 12, 2, 8, 10, 1.0), (8, 10), 1.0, (3, 3)),
        "smaller_than_bin": (_boxes(rng, 12, 2, 8, 10, 0.5, 0.0, 0.9, (0.01, 0.15)), (8, 10),
                             0.5, (4, 5)),
        "empty_bins": (_boxes(rng, 12, 2, 6, 7, 1.0, -0.9, 1.5, (0.2, 0.6)), (6, 7), 1.0,
                       (2, 3)),
        "many_boxes": (many, (9, 11), 0.25, (3, 2)),
    }


POOL = _pool_scenarios()


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("name", list(POOL))
def test_roi_pool_matches_slow_reference(name, dtype):
    rois, (h, w), scale, size = POOL[name]
    rng = np.random.default_rng(len(name))
    n = int(rois[:, 0].max()) + 1
    x = rng.standard_normal((n, 3, h, w)).astype(dtype)
    want, want_arg = ref.roi_pool(x, rois, size, scale)
    out, arg = K.roi_pool_forward(x, rois.astype(dtype), dtype(scale), *size, True)
    np.testing.assert_array_equal(arg, want_arg)
    np.testing.assert_array_equal(out, want)
    assert out.dtype == dtype
    # inference skips the argmax, not the max
    out_only, no_arg = K.roi_pool_forward(x, rois.astype(dtype), dtype(scale), *size, False)
    np.testing.assert_array_equal(out_only, want)
    assert no_arg.shape == (0,) + want.shape[1:]

    cot = rng.standard_normal(want.shape)
    got, grad = _run(roi_pool, x, rois.astype(dtype), cot, output_size=size,
                     spatial_scale=scale)
    np.testing.assert_array_equal(got, want)
    want_grad = ref.roi_pool_backward(cot.astype(dtype), want_arg, rois, x.shape)
    np.testing.assert_allclose(grad, want_grad, **_tol(dtype))
    assert grad.dtype == dtype


def test_pool_scenarios_reach_the_cases_they_name():
    """The scenarios above must contain what their names promise, or they test nothing."""
    halves = POOL["scale_16_halves"][0][:, 1:] / 16
    assert np.any(np.round(halves) != np.sign(halves) * np.floor(np.abs(halves) + 0.5))
    rois, (h, w), scale, size = POOL["empty_bins"]
    _, arg = ref.roi_pool(np.zeros((2, 1, h, w)), rois, size, scale)
    assert (arg == -1).any() and (arg >= 0).any()
    rois, (h, w), scale, size = POOL["smaller_than_bin"]
    extent = np.ceil((rois[:, 3:] - rois[:, 1:3]) * scale) + 1
    assert (extent < np.array(size)[::-1]).any()


def test_roi_pool_rounds_halves_away_from_zero():
    # 40/16 = 2.5 -> column 3 (np.round says 2); -8/16 = -0.5 -> -1 (np.round says -0)
    rows, cols = roi_pool_bins((40, -8, 72, 24), (1, 1), spatial_scale=1 / 16)
    assert cols == [(3, 6)]      # 72/16 = 4.5 -> 5, so columns 3, 4, 5
    assert rows == [(-1, 3)]     # 24/16 = 1.5 -> 2, so rows -1 .. 2
    # on the map: a plane that decreases to the right makes the max sit at the first column
    x = np.tile(-np.arange(8.0), (1, 1, 4, 1))
    out = roi_pool(sn.tensor(x), sn.tensor([[0, 40, 0, 72, 24]]), 1, spatial_scale=1 / 16)
    assert out.data.item() == -3.0


def test_roi_pool_float_bin_edges_follow_torchvision():
    """torchvision computes ceil((p + 1) * (S / P)) in floating point: for 29 rows in 7 bins,
    7 * (29 / 7) is 29.000000000000004 in float64, so the last bin reaches one row past the
    box (adaptive_max_pool2d, in integers, stops at 29). float32 rounds to exactly 29."""
    assert math.ceil(7 * (29 / 7)) == 30
    assert math.ceil(np.float32(7) * (np.float32(29) / np.float32(7))) == 29
    rows64, _ = roi_pool_bins((0, 0, 0, 28), (7, 1), dtype=np.float64)
    rows32, _ = roi_pool_bins((0, 0, 0, 28), (7, 1), dtype=np.float32)
    assert rows64[-1] == (24, 30) and rows32[-1] == (24, 29)
    # and the kernel pools over that extra row: put the max there
    x = np.zeros((1, 1, 31, 1))
    x[0, 0, 29, 0] = 5.0
    box = [[0, 0, 0, 0, 28]]
    assert roi_pool(sn.tensor(x), sn.tensor(box), (7, 1)).data[0, 0, -1, 0] == 5.0
    assert roi_pool(sn.tensor(x.astype(np.float32)), sn.tensor(box),
                    (7, 1)).data[0, 0, -1, 0] == 0.0


def test_roi_pool_max_rules_are_torchvisions():
    # ties go to the first pixel in row-major order
    out, arg = K.roi_pool_forward(np.ones((1, 1, 4, 4)), np.array([[0, 0.0, 0, 3, 3]]), 1.0,
                                  2, 2, True)
    assert arg.ravel().tolist() == [0, 2, 8, 10]
    # NaN never beats the running max; a bin of only -inf reports -FLT_MAX and takes no grad
    x = np.array([[[[np.nan, -1.0], [-np.inf, -np.inf]]]])
    out, arg = K.roi_pool_forward(x, np.array([[0, 0.0, 0, 1, 1]]), 1.0, 2, 1, True)
    assert out.ravel().tolist() == [-1.0, -K.FLT_MAX]
    assert arg.ravel().tolist() == [1, -1]


def test_roi_pool_overlapping_boxes_add_their_gradients():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 6, 6))
    box = [0, 1, 1, 4, 5]
    cot = rng.standard_normal((1, 2, 2, 2))
    _, once = _run(roi_pool, x, np.array([box], float), cot, output_size=2)
    _, twice = _run(roi_pool, x, np.array([box, box], float), np.concatenate([cot, 3 * cot]),
                    output_size=2)
    np.testing.assert_allclose(twice, 4 * once, rtol=1e-12)
    assert np.count_nonzero(once) == 8


# -- RoI align against the slow reference -------------------------------------------------------
def _align_scenarios():
    rng = np.random.default_rng(11)
    return {
        "inside": (_boxes(rng, 8, 2, 9, 10, 0.5, 0.0, 0.4, (0.1, 0.55)), (9, 10), 0.5, (2, 3)),
        "border": (_boxes(rng, 10, 2, 7, 8, 1.0, -0.5, 1.3, (0.3, 0.8)), (7, 8), 1.0, (3, 2)),
        "tiny": (_boxes(rng, 10, 2, 7, 8, 0.25, 0.0, 0.9, (0.002, 0.04)), (7, 8), 0.25,
                 (2, 2)),
    }


ALIGN = _align_scenarios()


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("sampling_ratio", [2, -1])
@pytest.mark.parametrize("aligned", [False, True], ids=["legacy", "aligned"])
@pytest.mark.parametrize("name", list(ALIGN))
def test_roi_align_matches_slow_reference(name, aligned, sampling_ratio, dtype):
    rois, (h, w), scale, size = ALIGN[name]
    rng = np.random.default_rng(len(name) + 100 * aligned)
    x = rng.standard_normal((2, 2, h, w)).astype(dtype)
    kw = dict(output_size=size, spatial_scale=scale, sampling_ratio=sampling_ratio,
              aligned=aligned)
    want = ref.roi_align(x, rois, size, scale, sampling_ratio, aligned)
    cot = rng.standard_normal(want.shape)
    out, grad = _run(roi_align, x, rois.astype(dtype), cot, **kw)
    assert out.dtype == dtype and grad.dtype == dtype
    np.testing.assert_allclose(out, want, **_tol(dtype))
    want_grad = ref.roi_align_backward(cot.astype(dtype), rois, x.shape, scale, sampling_ratio,
                                       aligned)
    np.testing.assert_allclose(grad, want_grad, **_tol(dtype))


def test_align_scenarios_reach_the_cases_they_name():
    rois, (h, w), scale, _ = ALIGN["border"]
    m = rois[:, 1:] * scale
    assert (m[:, :2] < 0).any() and ((m[:, 2] > w) | (m[:, 3] > h)).any()
    assert ((m[:, 0] > w) | (m[:, 1] > h) | (m[:, 2] < -1) | (m[:, 3] < -1)).any()
    rois, _, scale, _ = ALIGN["tiny"]
    assert ((rois[:, 3:] - rois[:, 1:3]) * scale < 1).all()


def test_roi_align_on_pixel_centres_reads_the_pixels():
    """aligned=True, one sample per 1-pixel bin: the sample is the pixel centre itself."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6, 7))
    out = roi_align(sn.tensor(x), sn.tensor([[1, 2, 1, 6, 4]]), (3, 4), sampling_ratio=1,
                    aligned=True)
    np.testing.assert_allclose(out.data[0], x[1, :, 1:4, 2:6], rtol=1e-15)


def test_roi_align_far_outside_is_zero_and_edges_clamp():
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    far = roi_align(sn.tensor(x), sn.tensor([[0, 20, 20, 30, 30]]), 2, sampling_ratio=1)
    assert not far.data.any()
    # a sample at y = -0.5 (inside [-1, 0]) reads row 0; at x = 3.5 (in [W-1, W]) column 3
    edge = roi_align(sn.tensor(x), sn.tensor([[0, 3, -1, 4, 0]]), 1, sampling_ratio=1)
    assert edge.data.item() == x[0, 0, 0, 3]


# -- live PyTorch comparisons -------------------------------------------------------------------
def _exact_bins(size, pooled):
    """True when torchvision's float bin edges equal adaptive pooling's integer ones."""
    for T in (np.float64, np.float32):
        b = T(size) / T(pooled)
        for p in range(pooled):
            if (math.floor(T(p) * b) != p * size // pooled
                    or math.ceil(T(p + 1) * b) != -(-(p + 1) * size // pooled)):
                return False
    return True


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_roi_pool_equals_adaptive_max_pool_of_the_crop_live(dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(21)
    for trial in range(6):
        n, c, h, w = 2, 3, int(rng.integers(5, 14)), int(rng.integers(5, 14))
        ph, pw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        boxes = []
        while len(boxes) < 5:
            x1, x2 = sorted(rng.integers(0, w, 2))
            y1, y2 = sorted(rng.integers(0, h, 2))
            if _exact_bins(y2 - y1 + 1, ph) and _exact_bins(x2 - x1 + 1, pw):
                boxes.append([rng.integers(0, n), x1, y1, x2, y2])
        rois = np.array(boxes, dtype)
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        cot = rng.standard_normal((len(rois), c, ph, pw)).astype(dtype)
        out, grad = _run(roi_pool, x, rois, cot, output_size=(ph, pw))

        xt = torch.from_numpy(x).requires_grad_(True)
        peer = torch.stack([F.adaptive_max_pool2d(xt[b, :, y1:y2 + 1, x1:x2 + 1], (ph, pw))
                            for b, x1, y1, x2, y2 in rois.astype(int).tolist()])
        (peer * torch.from_numpy(cot)).sum().backward()
        np.testing.assert_array_equal(out, peer.detach().numpy(), err_msg=f"trial {trial}")
        np.testing.assert_allclose(grad, xt.grad.numpy(), **_tol(dtype))


def test_roi_align_averages_pixel_centres_like_avg_pool_live():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 12, 13))
    rois = np.array([[0, 0, 0, 6, 9], [1, 4, 2, 10, 11], [1, 7, 3, 13, 12]], float)
    # 6 wide, 9 high into (3, 2) bins of 3x3 pixels with 3x3 samples: every pixel once
    out = roi_align(sn.tensor(x), sn.tensor(rois), (3, 2), sampling_ratio=3, aligned=True)
    xt = torch.from_numpy(x)
    peer = torch.stack([torch.nn.functional.avg_pool2d(xt[b, :, y1:y2, x1:x2], 3)
                        for b, x1, y1, x2, y2 in rois.astype(int).tolist()])
    np.testing.assert_allclose(out.data, peer.numpy(), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("aligned", [False, True], ids=["legacy", "aligned"])
def test_roi_align_one_sample_per_bin_is_grid_sample_live(aligned):
    """sampling_ratio=1 samples each bin's centre; inside the map that is grid_sample."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(9 + aligned)
    n, c, h, w, ph, pw = 2, 3, 10, 12, 3, 4
    rois = _boxes(rng, 6, n, h, w, 1.0, 0.1, 0.4, (0.2, 0.5))
    x = rng.standard_normal((n, c, h, w))
    cot = rng.standard_normal((len(rois), c, ph, pw))
    out, grad = _run(roi_align, x, rois, cot, output_size=(ph, pw), sampling_ratio=1,
                     aligned=aligned)

    xt = torch.from_numpy(x).requires_grad_(True)
    off = 0.5 if aligned else 0.0
    peers = []
    for b, x1, y1, x2, y2 in rois.tolist():
        ys = (y1 - off) + (np.arange(ph) + 0.5) * (y2 - y1) / ph
        xs = (x1 - off) + (np.arange(pw) + 0.5) * (x2 - x1) / pw
        assert ys.min() > 0 and ys.max() < h - 1 and xs.min() > 0 and xs.max() < w - 1
        gy, gx = np.meshgrid((2 * ys + 1) / h - 1, (2 * xs + 1) / w - 1, indexing="ij")
        grid = torch.from_numpy(np.stack([gx, gy], -1)[None])
        peers.append(F.grid_sample(xt[int(b)][None], grid, align_corners=False)[0])
    peer = torch.stack(peers)
    (peer * torch.from_numpy(cot)).sum().backward()
    np.testing.assert_allclose(out, peer.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


# -- the deck's RoI pooling examples (deck 000, Fast R-CNN) --------------------------------------
@pytest.mark.parametrize("height,width,bin_h,bin_w", [(21, 14, 3, 2), (35, 42, 5, 6)])
def test_deck_000_roi_bins(height, width, bin_h, bin_w):
    """"RoI 21x14 -> 3x2 max pool, stride (3, 2) -> 7x7; 35x42 -> 5x6, stride (5, 6)".
    The deck writes RoI, window and stride in one order; read as PyTorch's (height, width)."""
    box = (0, 0, width - 1, height - 1)          # x2, y2 are the last pixel inside
    rows, cols = roi_pool_bins(box, 7)
    assert rows == [(bin_h * i, bin_h * (i + 1)) for i in range(7)]
    assert cols == [(bin_w * i, bin_w * (i + 1)) for i in range(7)]
    # the same box seen the other way round swaps the windows
    rows_t, cols_t = roi_pool_bins((0, 0, height - 1, width - 1), 7)
    assert {b - a for a, b in rows_t} == {bin_w} and {b - a for a, b in cols_t} == {bin_h}


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("height,width,bin_h,bin_w", [(21, 14, 3, 2), (35, 42, 5, 6)])
def test_deck_000_roi_pool_is_a_max_pool_with_those_windows(height, width, bin_h, bin_w,
                                                            dtype):
    """On a conv5 map at 1/16 of the image: the RoI's 7x7 output is a non-overlapping max pool
    with window = stride = (bin_h, bin_w) of its crop."""
    rng = np.random.default_rng(height)
    x = rng.standard_normal((1, 4, 48, 60)).astype(dtype)
    top, left = 6, 9
    box = np.array([[0, left, top, left + width - 1, top + height - 1]], dtype) * 16
    box[0, 0] = 0
    out = roi_pool(sn.tensor(x), sn.tensor(box), 7, spatial_scale=1 / 16).data
    crop = x[0, :, top:top + height, left:left + width]
    want = crop.reshape(4, 7, bin_h, 7, bin_w).max(axis=(2, 4))
    np.testing.assert_array_equal(out[0], want)


# -- formats, dtypes, degenerate inputs ---------------------------------------------------------
@pytest.mark.parametrize("op", [roi_pool, roi_align])
def test_box_list_equals_the_k5_tensor(op):
    rng = np.random.default_rng(4)
    x = sn.tensor(rng.standard_normal((3, 2, 8, 9)).astype(np.float32))
    per_image = [sn.tensor([[1.0, 1, 5, 6], [0.5, 2, 7.5, 7]]), sn.zeros(0, 4),
                 np.array([[2.0, 0, 8, 3]], np.float32)]
    k5 = np.array([[0, 1, 1, 5, 6], [0, 0.5, 2, 7.5, 7], [2, 2, 0, 8, 3]], np.float32)
    a = op(x, per_image, (2, 3)).data
    b = op(x, sn.tensor(k5), (2, 3)).data
    assert a.shape == (3, 2, 2, 3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("op", [roi_pool, roi_align])
def test_dtypes_flow_and_boxes_get_no_gradient(op):
    rng = np.random.default_rng(6)
    rois = [[0, 1.0, 1.5, 6.2, 5.0], [1, 0.0, 0.0, 3.0, 3.0]]
    for dtype in DTYPES:
        x = sn.tensor(rng.standard_normal((2, 2, 7, 8)).astype(dtype), requires_grad=True)
        boxes = sn.tensor(np.array(rois, np.float64), requires_grad=True)
        out = op(x, boxes, 2)
        assert out.dtype == dtype
        out.sum().backward()
        assert x.grad.dtype == dtype and boxes.grad is None


@pytest.mark.parametrize("op", [roi_pool, roi_align])
def test_no_boxes_gives_an_empty_batch(op):
    x = sn.tensor(np.ones((2, 3, 5, 5), np.float32), requires_grad=True)
    out = op(x, sn.zeros(0, 5), (2, 4))
    assert out.shape == (0, 3, 2, 4) and out.dtype == np.float32
    out.sum().backward()
    assert x.grad.shape == (2, 3, 5, 5) and not x.grad.data.any()


@pytest.mark.parametrize("kernel", ["pool", "align"])
def test_threads_do_not_change_the_result(kernel):
    """The backwards scatter over shared pixels; a race would show as a different sum."""
    numba = pytest.importorskip("numba")
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 8, 12, 12))
    rois = _boxes(rng, 30, 2, 12, 12, 1.0)
    g = rng.standard_normal((30, 8, 3, 3))
    results = []
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, before}):
            numba.set_num_threads(threads)
            if kernel == "pool":
                out, arg = K.roi_pool_forward(x, rois, 1.0, 3, 3, True)
                results.append((out, K.roi_pool_backward(g, arg, rois, 2, 12, 12)))
            else:
                results.append((K.roi_align_forward(x, rois, 1.0, 3, 3, -1, False),
                                K.roi_align_backward(g, rois, 1.0, -1, False, 2, 12, 12)))
    finally:
        numba.set_num_threads(before)
    for out, grad in results[1:]:
        np.testing.assert_array_equal(out, results[0][0])
        np.testing.assert_array_equal(grad, results[0][1])


# -- errors teach ------------------------------------------------------------------------------
X = np.zeros((2, 3, 8, 8), np.float32)
GOOD = np.array([[0, 1, 1, 4, 4]], np.float32)


@pytest.mark.parametrize("op", [roi_pool, roi_align], ids=["roi_pool", "roi_align"])
@pytest.mark.parametrize("x,boxes,kw,exc,words", [
    (X, [[2, 1, 1, 4, 4]], {}, ValueError, ["batch index 2", "2 image(s)", "0 to 1"]),
    (X, [[-1, 1, 1, 4, 4]], {}, ValueError, ["batch index -1"]),
    (X, [[0.5, 1, 1, 4, 4]], {}, ValueError, ["batch index 0.5", "whole number"]),
    (X, [[0, 1, np.nan, 4, 4]], {}, ValueError, ["box 0", "non-finite", "nan"]),
    (X, [[0, 1, 1, 4, 4], [0, 1, 1, np.inf, 4]], {}, ValueError, ["box 1", "inf"]),
    (X, np.zeros((3, 4)), {}, ValueError, ["(K, 5)", "(3, 4)"]),
    (X, np.zeros(5), {}, ValueError, ["(K, 5)", "(5,)"]),
    (X, [np.zeros((2, 5))], {}, ValueError, ["entry 0", "(2, 5)", "(L, 4)"]),
    (X, [np.zeros((1, 4))] * 3, {}, ValueError, ["3 entries", "2 image(s)"]),
    (X, GOOD, {"output_size": 0}, ValueError, ["output_size", "at least 1x1", "0"]),
    (X, GOOD, {"output_size": (7, 0)}, ValueError, ["output_size", "(7, 0)"]),
    (X, GOOD, {"output_size": (1, 2, 3)}, ValueError, ["output_size", "pair"]),
    (X, GOOD, {"output_size": 2.5}, TypeError, ["output_size", "integers", "2.5"]),
    (X[0], GOOD, {}, ValueError, ["4-D input (N, C, H, W)", "(3, 8, 8)"]),
    (X.astype(np.int64), GOOD, {}, TypeError, ["float32 or float64", "int64"]),
    (X, GOOD, {"spatial_scale": 0.0}, ValueError, ["spatial_scale", "> 0", "0.0"]),
    (X, GOOD, {"spatial_scale": float("nan")}, ValueError, ["spatial_scale", "nan"]),
    (X, [[0, 1, 1, 3e38, 4]], {"spatial_scale": 16.0}, ValueError,
     ["box 0", "overflows float32"]),
    (X, [[0, 1, -3e9, 4, 4]], {}, ValueError, ["box 0", "int32 range"]),
])
def test_bad_input_is_explained(op, x, boxes, kw, exc, words):
    kw = {"output_size": 2, **kw}
    with pytest.raises(exc) as err:
        op(sn.tensor(x), boxes if isinstance(boxes, list) else sn.tensor(boxes), **kw)
    msg = str(err.value)
    assert msg.startswith(op.__name__ + ":"), msg
    for word in words:
        assert word in msg, f"{word!r} not in {msg!r}"


def test_roi_align_sampling_ratio_must_be_an_int():
    with pytest.raises(TypeError, match=r"roi_align: sampling_ratio must be an int.*1\.5"):
        roi_align(sn.tensor(X), sn.tensor(GOOD), 2, sampling_ratio=1.5)
