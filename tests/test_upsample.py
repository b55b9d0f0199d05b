"""Upsampling: the decks' worked examples, PyTorch's index rules on hand-computed tables,
dtypes, errors, and (with torch installed) randomized comparisons with PyTorch.

The op cases in tests/opcases/upsample.py add the gradient checks and the stored references.
"""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F

DECK_2X2 = [[1.0, 2.0], [3.0, 4.0]]


def _img(rows, dtype=np.float32):
    return sn.tensor(np.array(rows, dtype=dtype)[None, None])


def _line(values, dtype=np.float64):
    return sn.tensor(np.array(values, dtype=dtype)[None, None])


# -- deck 004, 업샘플링 / 언풀링 slide --------------------------------------------------------
def test_deck_nearest_neighbor_2x2_to_4x4():
    want = [[1, 1, 2, 2],
            [1, 1, 2, 2],
            [3, 3, 4, 4],
            [3, 3, 4, 4]]
    for out in (F.interpolate(_img(DECK_2X2), scale_factor=2),
                F.interpolate(_img(DECK_2X2), size=4),
                F.upsample_nearest(_img(DECK_2X2), size=(4, 4))):
        assert out.shape == (1, 1, 4, 4)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out.data[0, 0], want)


def test_deck_bed_of_nails_2x2_to_4x4():
    out = F.bed_of_nails(_img(DECK_2X2))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data[0, 0], [[1, 0, 2, 0],
                                                  [0, 0, 0, 0],
                                                  [3, 0, 4, 0],
                                                  [0, 0, 0, 0]])


def test_bed_of_nails_backward_reads_the_corners():
    x = sn.tensor(np.array(DECK_2X2)[None, None], requires_grad=True)
    g = np.arange(16.0).reshape(1, 1, 4, 4)
    F.bed_of_nails(x).backward(g)
    np.testing.assert_array_equal(x.grad.data[0, 0], [[0, 2], [8, 10]])


def test_bed_of_nails_rectangular_blocks():
    out = F.bed_of_nails(_img([[5.0, 6.0]]), scale_factor=(2, 3))
    np.testing.assert_array_equal(out.data[0, 0], [[5, 0, 0, 6, 0, 0],
                                                  [0, 0, 0, 0, 0, 0]])


def test_nearest_backward_sums_each_block():
    x = sn.tensor(np.ones((1, 1, 2, 3)), requires_grad=True)
    F.interpolate(x, scale_factor=(2, 3)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((1, 1, 2, 3), 6.0))


def test_nearest_downsampling_skips_pixels_and_their_gradient():
    x = sn.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    out = F.interpolate(x, scale_factor=0.5)
    np.testing.assert_array_equal(out.data[0, 0], [[0, 2], [8, 10]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0],
                                                      [1, 0, 1, 0], [0, 0, 0, 0]])


# -- bilinear, worked by hand -------------------------------------------------------------------
def test_bilinear_align_corners_true_2x2_to_3x3():
    # corners coincide: the new pixels sit halfway, src = dst * (2-1)/(3-1)
    out = F.interpolate(_img(DECK_2X2), size=3, mode="bilinear", align_corners=True)
    np.testing.assert_allclose(out.data[0, 0], [[1.0, 1.5, 2.0],
                                               [2.0, 2.5, 3.0],
                                               [3.0, 3.5, 4.0]])


def test_bilinear_align_corners_false_2x2_to_4x4():
    # pixel centres: src = (dst + 0.5)/2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25
    # (reads pixel 1 only, as the tap to its right would be outside)
    row = [1.0, 1.25, 1.75, 2.0]
    out = F.interpolate(_img(DECK_2X2), scale_factor=2, mode="bilinear")
    np.testing.assert_allclose(out.data[0, 0, 0], row)
    np.testing.assert_allclose(out.data[0, 0, :, 0], [1.0, 1.5, 2.5, 3.0])
    np.testing.assert_allclose(out.data[0, 0, 1, 1], 0.75 * 1.25 + 0.25 * 3.25)


def test_bilinear_default_is_align_corners_false():
    a = F.interpolate(_img(DECK_2X2), scale_factor=2, mode="bilinear")
    b = F.interpolate(_img(DECK_2X2), scale_factor=2, mode="bilinear", align_corners=False)
    np.testing.assert_array_equal(a.data, b.data)


def test_upsample_bilinear_alias_aligns_corners():
    # PyTorch's old alias differs from interpolate's default: the corners coincide
    out = F.upsample_bilinear(_img(DECK_2X2), size=3)
    np.testing.assert_allclose(out.data[0, 0, 1], [2.0, 2.5, 3.0])


def test_linear_1d_constant_stays_constant_and_ramp_stays_a_ramp():
    out = F.interpolate(_line([2.0, 2.0, 2.0]), size=7, mode="linear")
    np.testing.assert_allclose(out.data, 2.0)
    ramp = F.interpolate(_line([0.0, 1.0, 2.0, 3.0]), size=7, mode="linear", align_corners=True)
    np.testing.assert_allclose(ramp.data[0, 0], [0, 0.5, 1, 1.5, 2, 2.5, 3])


def test_bilinear_to_one_pixel_with_align_corners_reads_the_first():
    # (n-1)/(m-1) has no meaning for m = 1; PyTorch uses scale 0, the top-left pixel
    out = F.interpolate(_img([[1.0, 2.0], [3.0, 4.0]]), size=1, mode="bilinear",
                        align_corners=True)
    np.testing.assert_array_equal(out.data, [[[[1.0]]]])


# -- PyTorch's index rules ----------------------------------------------------------------------
def test_scale_factor_indexes_by_its_inverse_not_by_in_over_out():
    # 5 pixels, scale_factor 1.7 -> floor(8.5) = 8 outputs
    # by 1/1.7 = 0.588: floor(d * 0.588) = 0 0 1 1 2 2 3 4
    # by 5/8 = 0.625:   floor(d * 0.625) = 0 0 1 1 2 3 3 4
    x = _line(np.arange(5.0))
    by_factor = F.interpolate(x, scale_factor=1.7)
    by_size = F.interpolate(x, size=8)
    recomputed = F.interpolate(x, scale_factor=1.7, recompute_scale_factor=True)
    np.testing.assert_array_equal(by_factor.data[0, 0], [0, 0, 1, 1, 2, 2, 3, 4])
    np.testing.assert_array_equal(by_size.data[0, 0], [0, 0, 1, 1, 2, 3, 3, 4])
    np.testing.assert_array_equal(recomputed.data, by_size.data)


def test_fractional_scale_factor_output_size_is_floored():
    out = F.interpolate(sn.zeros(1, 1, 5, 4), scale_factor=(1.5, 0.7), mode="bilinear")
    assert out.shape == (1, 1, 7, 2)


def test_nearest_floors_in_float32_like_pytorch():
    # PyTorch multiplies dst * scale in the tensor's dtype, then floors it as a float32.
    # 14 -> 110 pixels, output 55: 55 * 14/110 = 7 on paper, 6.999999999999999 in float64,
    # which rounds to 7.0f before the floor: pixel 7, not 6.
    out = F.interpolate(_line(np.arange(14.0), np.float64), size=110)
    assert out.data[0, 0, 55] == 7.0
    # 14 -> 46 pixels, output 23: exactly 7.0 in float64, but 6.9999995f in float32: pixel 6
    for dtype, want in ((np.float64, 7.0), (np.float32, 6.0)):
        out = F.interpolate(_line(np.arange(14.0), dtype), size=46)
        assert out.data[0, 0, 23] == want, dtype


def test_bilinear_same_size_is_a_copy_even_for_a_scale_factor():
    # floor(5 * 1.1) = 5: PyTorch copies instead of resampling by 1/1.1
    x = _line(np.arange(5.0) ** 2)
    out = F.interpolate(x, scale_factor=1.1, mode="linear")
    np.testing.assert_array_equal(out.data, x.data)


def test_nearest_backward_is_the_transpose_of_forward():
    # 4 pixels, scale_factor 2.177 -> 8 outputs reading floor(d / 2.177) = 0 0 0 1 1 2 2 3,
    # so the input pixels are read 3, 2, 2, 1 times. (PyTorch's backward treats 8 = 2 * 4 as
    # an exact doubling, 2, 2, 2, 2: its gradient is not the transpose of its forward there.)
    x = _line(np.arange(4.0))
    x.requires_grad_()
    out = F.interpolate(x, scale_factor=2.177)
    np.testing.assert_array_equal(out.data[0, 0], [0, 0, 0, 1, 1, 2, 2, 3])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, 0], [3, 2, 2, 1])


# -- dtypes and layouts -------------------------------------------------------------------------
CALLS = [
    ("nearest", lambda x: F.interpolate(x, scale_factor=(2, 1.5))),
    ("bilinear", lambda x: F.interpolate(x, size=(5, 3), mode="bilinear")),
    ("bilinear_corners", lambda x: F.interpolate(x, scale_factor=2, mode="bilinear",
                                                 align_corners=True)),
    ("bed_of_nails", lambda x: F.bed_of_nails(x, 3)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,call", CALLS, ids=[n for n, _ in CALLS])
def test_dtype_is_kept_forward_and_backward(name, call, dtype):
    x = sn.tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 3)).astype(dtype),
                  requires_grad=True)
    out = call(x)
    assert out.dtype == dtype
    out.backward(np.ones(out.shape, dtype))
    assert x.grad.dtype == dtype


@pytest.mark.parametrize("name,call", CALLS, ids=[n for n, _ in CALLS])
def test_non_contiguous_input(name, call):
    base = np.random.default_rng(1).standard_normal((2, 3, 3, 4))
    view = base.transpose(0, 1, 3, 2)
    np.testing.assert_array_equal(call(sn.tensor(view)).data,
                                  call(sn.tensor(np.ascontiguousarray(view))).data)


def test_no_graph_without_grad():
    out = F.interpolate(sn.randn(1, 2, 3, 3), scale_factor=2, mode="bilinear")
    assert not out.requires_grad and out.grad_fn is None


# -- errors -------------------------------------------------------------------------------------
X4 = np.zeros((1, 2, 3, 4), np.float32)
X3 = np.zeros((1, 2, 5), np.float32)

BAD = [
    ("rank2", lambda: F.interpolate(np.zeros((3, 4), np.float32), scale_factor=2),
     ValueError, "got a 2-D input"),
    ("rank5", lambda: F.interpolate(np.zeros((1, 1, 2, 2, 2), np.float32), scale_factor=2),
     ValueError, "4-D (N, C, H, W)"),
    ("bilinear_3d", lambda: F.interpolate(X3, scale_factor=2, mode="bilinear"),
     ValueError, "use mode='linear'"),
    ("linear_4d", lambda: F.interpolate(X4, scale_factor=2, mode="linear"),
     ValueError, "use mode='bilinear'"),
    ("both", lambda: F.interpolate(X4, size=4, scale_factor=2), ValueError, "not both"),
    ("neither", lambda: F.interpolate(X4), ValueError, "either size or scale_factor"),
    ("size_zero", lambda: F.interpolate(X4, size=(0, 3)), ValueError, ">= 1"),
    ("size_negative", lambda: F.interpolate(X3, size=-2), ValueError, ">= 1"),
    ("size_float", lambda: F.interpolate(X4, size=(4.5, 3)), TypeError, "ints"),
    ("size_length", lambda: F.interpolate(X4, size=(4, 4, 4)), ValueError,
     "2 spatial dimension(s)"),
    ("scale_length", lambda: F.interpolate(X3, scale_factor=(2, 2)), ValueError,
     "scale_factor has 2 entries"),
    ("scale_negative", lambda: F.interpolate(X4, scale_factor=-2), ValueError,
     "positive"),
    ("scale_to_nothing", lambda: F.interpolate(X4, scale_factor=0.2), ValueError,
     "floor(3 * 0.2) = 0"),
    ("scale_string", lambda: F.interpolate(X4, scale_factor="2"), TypeError, "number"),
    ("unknown_mode", lambda: F.interpolate(X4, scale_factor=2, mode="cubic"), ValueError,
     "mode must be one of"),
    ("torch_only_mode", lambda: F.interpolate(X4, scale_factor=2, mode="area"), ValueError,
     "does not implement"),
    ("corners_nearest", lambda: F.interpolate(X4, scale_factor=2, align_corners=False),
     ValueError, "align_corners only applies"),
    ("corners_not_bool", lambda: F.interpolate(X4, scale_factor=2, mode="bilinear",
                                               align_corners="yes"), TypeError, "True, False"),
    ("recompute_with_size", lambda: F.interpolate(X4, size=4, recompute_scale_factor=True),
     ValueError, "meaningless"),
    ("antialias", lambda: F.interpolate(X4, size=2, mode="bilinear", antialias=True),
     ValueError, "antialias"),
    ("int_input", lambda: F.interpolate(np.zeros((1, 1, 2, 2), np.int64), scale_factor=2),
     TypeError, "float32 or float64"),
    ("empty_plane", lambda: F.interpolate(np.zeros((1, 1, 0, 2), np.float32), size=2),
     ValueError, "empty"),
    ("nails_rank", lambda: F.bed_of_nails(X3), ValueError, "4-D (N, C, H, W)"),
    ("nails_zero", lambda: F.bed_of_nails(X4, 0), ValueError, ">= 1"),
    ("nails_fraction", lambda: F.bed_of_nails(X4, 1.5), TypeError, "positive int"),
    ("nails_triple", lambda: F.bed_of_nails(X4, (2, 2, 2)), TypeError, "pair"),
]


@pytest.mark.parametrize("call,exc,words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_explained(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert words in msg, msg
    assert msg.startswith(("interpolate", "bed_of_nails")), msg


# -- live comparison with PyTorch ---------------------------------------------------------------
def _random_config(rng):
    mode = ["nearest", "bilinear", "linear"][int(rng.integers(3))]
    dims = 1 if mode == "linear" or (mode == "nearest" and rng.random() < 0.3) else 2
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) + tuple(
        int(rng.integers(1, 9)) for _ in range(dims))
    kw = {"mode": mode}
    if mode != "nearest":
        kw["align_corners"] = bool(rng.random() < 0.5)
    if rng.random() < 0.5:
        kw["size"] = tuple(int(rng.integers(1, 17)) for _ in range(dims))
    else:
        kw["scale_factor"] = tuple(float(np.round(rng.uniform(0.6, 3.5), int(rng.integers(3))))
                                   for _ in range(dims))
        if rng.random() < 0.3:
            kw["recompute_scale_factor"] = True
        if any(int(n * f) < 1 for n, f in zip(shape[2:], kw["scale_factor"])):
            kw = {"mode": mode, "size": shape[2:], **({"align_corners": kw["align_corners"]}
                                                        if mode != "nearest" else {})}
    return shape, kw


def _torch_backward_is_transpose(shape, kw, out_shape):
    # PyTorch's nearest backward special-cases out == in and out == 2 * in, which only agrees
    # with its forward when the scale factor is exactly 1 or 2 (or was recomputed)
    if kw["mode"] != "nearest" or "scale_factor" not in kw or kw.get("recompute_scale_factor"):
        return True
    return all(f == m / n or m not in (n, 2 * n)
               for n, m, f in zip(shape[2:], out_shape[2:], kw["scale_factor"]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("seed", range(40))
def test_matches_pytorch_live(seed, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    shape, kw = _random_config(rng)
    x = rng.standard_normal(shape).astype(dtype)
    ours_x = sn.tensor(x, requires_grad=True)
    ours = F.interpolate(ours_x, **kw)
    their_x = torch.from_numpy(x).requires_grad_()
    theirs = torch.nn.functional.interpolate(their_x, **kw)
    assert ours.shape == tuple(theirs.shape), kw
    assert ours.dtype == dtype
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **tol, err_msg=str(kw))
    g = rng.standard_normal(ours.shape).astype(dtype)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))
    if _torch_backward_is_transpose(shape, kw, ours.shape):
        np.testing.assert_allclose(ours_x.grad.data, their_x.grad.numpy(), **tol,
                                   err_msg=str(kw))
