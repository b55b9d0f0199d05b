"""Pooling and unpooling: the decks' worked examples, semantics checked by hand, errors that
teach, and (with torch installed) randomized comparisons with PyTorch.

The stored-reference and gradient-check cases live in tests/opcases/pool.py."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.shapes import conv_output_size

DECK003 = [[29, 15, 28, 184], [0, 100, 70, 38], [12, 12, 7, 2], [12, 12, 45, 6]]
DECK000 = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 8, 7, 6], [5, 4, 3, 2]]


def image(rows, dtype=np.float32):
    return sn.tensor(np.array(rows, dtype=dtype)[None, None])


# -- the decks' examples ------------------------------------------------------------------------


def test_deck003_max_avg_min_pooling_4x4():
    x = image(DECK003)
    np.testing.assert_array_equal(F.max_pool2d(x, 2, 2).data[0, 0], [[100, 184], [12, 45]])
    np.testing.assert_array_equal(F.avg_pool2d(x, 2, 2).data[0, 0], [[36, 80], [12, 15]])
    # min of each 2x2 block, read off the slide's table by hand
    np.testing.assert_array_equal(F.min_pool2d(x, 2, 2).data[0, 0], [[0, 28], [12, 2]])


def test_deck000_max_unpooling():
    y, idx = F.max_pool2d(image(DECK000), 2, return_indices=True)
    np.testing.assert_array_equal(y.data[0, 0], [[6, 8], [9, 7]])
    np.testing.assert_array_equal(idx.data[0, 0], [[5, 7], [8, 10]])   # (1,1) (1,3) (2,0) (2,2)
    up = F.max_unpool2d(image([[3, 4], [5, 6]]), idx, 2)
    np.testing.assert_array_equal(up.data[0, 0],
                                  [[0, 0, 0, 0], [0, 3, 0, 4], [5, 0, 6, 0], [0, 0, 0, 0]])


def test_unpool_backward_gathers_at_the_indices():
    v = sn.tensor(np.array([[[[3.0, 4.0], [5.0, 6.0]]]]), requires_grad=True)
    idx = np.array([[[[5, 7], [8, 10]]]])
    up = F.max_unpool2d(v, idx, 2)
    (up * sn.tensor(np.arange(16.0).reshape(1, 1, 4, 4))).sum().backward()
    np.testing.assert_array_equal(v.grad.data[0, 0], [[5, 7], [8, 10]])


# -- semantics, by hand ------------------------------------------------------------------------


def test_padding_never_wins_on_negative_input():
    x = -np.arange(1.0, 10.0).reshape(1, 1, 3, 3)     # -1 .. -9, max at the top left
    y, idx = F.max_pool2d(sn.tensor(x), 3, 1, 1, return_indices=True)
    # output (0, 0) sees pixels -1 -2 -4 -5 and 5 pads: the answer is -1 at offset 0
    assert y.data[0, 0, 0, 0] == -1 and idx.data[0, 0, 0, 0] == 0
    assert np.all(np.isfinite(y.data)) and np.all(y.data < 0)
    # bottom-right window holds -5 -6 -8 -9: the max -5 at (1, 1)
    assert y.data[0, 0, 2, 2] == -5 and idx.data[0, 0, 2, 2] == 4


def test_ties_go_to_the_first_index_in_row_major_order():
    _, idx = F.max_pool2d(sn.ones(1, 1, 4, 4), 2, return_indices=True)
    np.testing.assert_array_equal(idx.data[0, 0], [[0, 2], [8, 10]])
    _, idx = F.max_pool2d(sn.ones(1, 1, 3, 3), 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx.data[0, 0], [[0, 1], [3, 4]])


def test_nan_in_a_window_wins():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 0] = np.nan
    x[0, 0, 0, 3] = 7.0
    y, idx = F.max_pool2d(sn.tensor(x), 2, return_indices=True)
    assert np.isnan(y.data[0, 0, 0, 0]) and idx.data[0, 0, 0, 0] == 4
    assert y.data[0, 0, 0, 1] == 7.0 and idx.data[0, 0, 0, 1] == 3


def test_overlapping_windows_accumulate_in_backward():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 9.0                      # every 2x2 window (stride 1) picks the centre
    t = sn.tensor(x, requires_grad=True)
    (F.max_pool2d(t, 2, 1) * sn.tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))).sum().backward()
    want = np.zeros((3, 3))
    want[1, 1] = 1 + 2 + 3 + 4
    np.testing.assert_array_equal(t.grad.data[0, 0], want)


def test_min_pool_pads_with_plus_infinity():
    x = sn.tensor(np.arange(1.0, 10.0).reshape(1, 1, 3, 3))
    y, idx = F.min_pool2d(x, 3, 2, 1, return_indices=True)
    # windows {1,2,4,5} {2,3,5,6} {4,5,7,8} {5,6,8,9} plus padding, which must not give 0
    np.testing.assert_array_equal(y.data[0, 0], [[1, 2], [4, 5]])
    np.testing.assert_array_equal(idx.data[0, 0], [[0, 1], [3, 4]])


def test_ceil_mode_drops_a_window_that_starts_in_the_right_padding():
    # 5 + 2*1 - 2 = 5; ceil(5/2) + 1 = 4, but window 4 would start at 3*2 - 1 = 5 >= 5
    assert conv_output_size(5, 2, 2, 1, 1, ceil_mode=True) == 3
    assert conv_output_size(5, 2, 2, 1, 1, ceil_mode=False) == 3
    assert conv_output_size(6, 3, 2, 0, 1, ceil_mode=True) == 3      # (6-3)/2 = 1.5 -> 2 + 1
    assert conv_output_size(6, 3, 2, 0, 1, ceil_mode=False) == 2
    assert F.max_pool2d(sn.zeros(1, 1, 5, 5), 2, 2, 1, ceil_mode=True).shape == (1, 1, 3, 3)
    assert F.avg_pool2d(sn.zeros(1, 1, 6, 6), 3, 2, ceil_mode=True).shape == (1, 1, 3, 3)


def test_avg_pool_count_include_pad_and_divisor_by_hand():
    x = sn.ones(1, 1, 2, 2)
    # every 3x3 window (padding 1) covers the 4 real pixels and 5 zeros of padding
    np.testing.assert_allclose(F.avg_pool2d(x, 3, 1, 1).data, np.full((1, 1, 2, 2), 4 / 9),
                               rtol=1e-6)
    np.testing.assert_array_equal(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False).data,
                                  np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(F.avg_pool2d(x, 3, 1, 1, divisor_override=2).data,
                                  np.full((1, 1, 2, 2), 2.0))


def test_adaptive_bins_floor_start_ceil_end():
    row = np.arange(7.0)
    x = sn.tensor(np.tile(row, (1, 1, 1, 1)))                # (1, 1, 1, 7)
    # bins [0, 3) [2, 5) [4, 7): floor(i*7/3) .. ceil((i+1)*7/3)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, (1, 3)).data[0, 0, 0], [1, 3, 5])
    y, idx = F.adaptive_max_pool2d(x, (1, 3), return_indices=True)
    np.testing.assert_array_equal(y.data[0, 0, 0], [2, 4, 6])
    np.testing.assert_array_equal(idx.data[0, 0, 0], [2, 4, 6])
    # 5 -> 7: bin i covers [floor(5i/7), ceil(5(i+1)/7)): 0-1 0-2 1-3 2-3 2-4 3-5 4-5
    x5 = sn.tensor(np.arange(5.0).reshape(1, 1, 1, 5))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x5, (1, 7)).data[0, 0, 0],
                               [0, 0.5, 1.5, 2, 2.5, 3.5, 4])


def test_adaptive_output_size_none_keeps_the_input_size():
    x = sn.randn(2, 3, 5, 6)
    assert F.adaptive_avg_pool2d(x, (None, 2)).shape == (2, 3, 5, 2)
    assert F.adaptive_max_pool2d(x, (4, None)).shape == (2, 3, 4, 6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_flows_through_values_grads_and_indices(dtype):
    x = sn.tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(dtype),
                  requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    outs = [y, F.avg_pool2d(x, 3, 1, 1), F.adaptive_avg_pool2d(x, 4),
            F.adaptive_max_pool2d(x, 4), F.max_unpool2d(y, idx, 2), F.min_pool2d(x, 2)]
    assert idx.dtype == np.int64 and not idx.requires_grad
    total = None
    for o in outs:
        assert o.dtype == dtype, o
        total = o.sum() if total is None else total + o.sum()
    total.backward()
    assert x.grad.dtype == dtype


def test_unbatched_and_1d_inputs():
    x = np.random.default_rng(1).standard_normal((3, 6, 6))
    batched = F.max_pool2d(sn.tensor(x[None]), 2).data[0]
    np.testing.assert_array_equal(F.max_pool2d(sn.tensor(x), 2).data, batched)
    seq = np.array([[[1.0, 5.0, 2.0, 2.0, 9.0]]])
    y, idx = F.max_pool1d(sn.tensor(seq), 2, return_indices=True)
    np.testing.assert_array_equal(y.data, [[[5.0, 2.0]]])
    np.testing.assert_array_equal(idx.data, [[[1, 2]]])


def test_noncontiguous_input():
    x = np.random.default_rng(2).standard_normal((2, 5, 6, 3))
    t = sn.tensor(x).permute(0, 3, 1, 2)                  # (2, 3, 5, 6), not contiguous
    contiguous = F.max_pool2d(sn.tensor(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), 2)
    np.testing.assert_array_equal(F.max_pool2d(t, 2).data, contiguous.data)


# -- errors that teach ---------------------------------------------------------------------------


def raises(fn, *fragments, exc=ValueError):
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in message: {msg}"
    return msg


def test_error_kernel_larger_than_padded_input_shows_formula():
    raises(lambda: F.max_pool2d(sn.zeros(1, 1, 2, 5), 3), "max_pool2d(k=3, s=3)", "height",
           "(2 + 2*0 - 3)/3 + 1 = 0.667")
    raises(lambda: F.avg_pool2d(sn.zeros(1, 1, 4, 2), (2, 3), 1), "avg_pool2d(k=2x3, s=1)",
           "width", "(2 + 2*0 - 3)/1 + 1 = 0")


def test_error_dilated_window_larger_than_input():
    raises(lambda: F.max_pool2d(sn.zeros(1, 1, 4, 4), 3, 1, 0, 2), "d=2",
           "(4 + 2*0 - 2*(3-1) - 1)/1 + 1 = 0")


def test_error_padding_more_than_half_the_kernel():
    raises(lambda: F.max_pool2d(sn.zeros(1, 1, 8, 8), 3, 1, 2), "max_pool2d(k=3, s=1, p=2)",
           "at most half the kernel (3 // 2 = 1), got 2")
    raises(lambda: F.avg_pool2d(sn.zeros(1, 1, 8, 8), (4, 2), 1, (2, 2)), "width",
           "(2 // 2 = 1), got 2")


def test_error_window_that_sees_only_padding():
    # taps -1 and 1 of a dilated 2-wide window both miss a 1-pixel input
    raises(lambda: F.max_pool2d(sn.zeros(1, 1, 1, 4), 2, 1, 1, 2), "taps -1, 1",
           "only padding")


def test_error_wrong_rank_and_dtype():
    raises(lambda: F.max_pool2d(sn.zeros(4, 4), 2), "expected a 4-D (N, C, H, W)",
           "2-D input of shape (4, 4)")
    raises(lambda: F.avg_pool2d(sn.zeros(1, 1, 1, 4, 4), 2), "5-D")
    raises(lambda: F.adaptive_avg_pool2d(sn.zeros(4), 2), "1-D")
    raises(lambda: F.max_pool1d(sn.zeros(1, 1, 4, 4), 2), "max_pool1d", "4-D")
    raises(lambda: F.max_pool2d(sn.tensor(np.ones((1, 1, 4, 4), np.int64)), 2), "int64",
           exc=TypeError)


def test_error_bad_window_arguments():
    raises(lambda: F.max_pool2d(sn.zeros(1, 1, 4, 4), 0), "kernel_size must be >= 1, got 0")
    raises(lambda: F.max_pool2d(sn.zeros(1, 1, 4, 4), (1, 2, 3)), "max_pool2d:",
           "kernel_size must be an int or a pair, got (1, 2, 3)")
    raises(lambda: F.avg_pool2d(sn.zeros(1, 1, 4, 4), 2, (1, 0)), "stride must be >= 1")
    raises(lambda: F.max_pool2d(sn.zeros(1, 1, 4, 4), 2, padding=-1), "padding must be >= 0")
    raises(lambda: F.avg_pool2d(sn.zeros(1, 1, 4, 4), 2, divisor_override=0),
           "divisor_override must be a positive integer, got 0")
    raises(lambda: F.adaptive_max_pool2d(sn.zeros(1, 1, 4, 4), (0, 2)), "output_size",
           ">= 1")


def test_error_unpool_index_outside_the_output_plane():
    v = sn.ones(1, 2, 2, 2)
    idx = np.tile(np.array([[0, 2], [8, 10]]), (1, 2, 1, 1))
    idx[0, 1, 1, 0] = 16
    raises(lambda: F.max_unpool2d(v, idx, 2), "max_unpool2d(k=2, s=2)", "index 16",
           "position (0, 1, 1, 0)", "outside the 4x4 output plane (valid: 0 to 15)")
    idx[0, 1, 1, 0] = -1
    raises(lambda: F.max_unpool2d(v, idx, 2), "index -1")


def test_error_unpool_output_size_shows_the_allowed_range():
    v, idx = sn.ones(1, 1, 2, 2), np.array([[[[0, 2], [8, 10]]]])
    raises(lambda: F.max_unpool2d(v, idx, 2, output_size=(6, 4)), "(6, 4)",
           "height must be between 3 and 5", "(2 - 1)*2 - 2*0 + 2 = 4", "got 6")
    raises(lambda: F.max_unpool2d(v, idx, 2, output_size=(4, 4, 4)), "(H_out, W_out)")
    assert F.max_unpool2d(v, idx, 2, output_size=(1, 1, 5, 4)).shape == (1, 1, 5, 4)


def test_error_unpool_indices_shape_and_dtype():
    v = sn.ones(1, 2, 2, 2)
    raises(lambda: F.max_unpool2d(v, np.zeros((1, 1, 2, 2), np.int64), 2),
           "indices must have the input's shape (1, 2, 2, 2), got (1, 1, 2, 2)")
    raises(lambda: F.max_unpool2d(v, np.zeros((1, 2, 2, 2)), 2), "integer", exc=TypeError)


def test_error_unpool_output_would_be_empty():
    raises(lambda: F.max_unpool2d(sn.ones(1, 1, 1, 1), np.zeros((1, 1, 1, 1), np.int64), 2,
                                  padding=1), "0x0")


# -- randomized comparisons with PyTorch ------------------------------------------------------

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


@st.composite
def window(draw, dilation=True):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    span = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
    H = draw(st.integers(max(1, span[0] - 2 * p[0]), 9))
    W = draw(st.integers(max(1, span[1] - 2 * p[1]), 9))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), H, W)
    return shape, k, s, p, d, draw(st.booleans())


def _pair(shape, seed):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(seed).standard_normal(shape)
    return sn.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _backward_both(o, t, seed):
    torch = pytest.importorskip("torch")
    cot = np.random.default_rng(seed + 1).standard_normal(tuple(t.shape))
    (o * sn.tensor(cot)).sum().backward()
    (t * torch.tensor(cot)).sum().backward()


@SETTINGS
@given(w=window(), seed=st.integers(0, 2**16))
def test_max_pool2d_like_torch(w, seed):
    torch = pytest.importorskip("torch")
    shape, k, s, p, d, ceil = w
    xo, xt = _pair(shape, seed)
    try:
        yt, it = torch.nn.functional.max_pool2d(xt, k, s, p, d, ceil, return_indices=True)
    except RuntimeError:
        with pytest.raises(ValueError):
            F.max_pool2d(xo, k, s, p, d, ceil)
        return
    if not np.all(np.isfinite(yt.detach().numpy())):
        # a window of padding only: PyTorch gives -inf and an index off the plane, we raise
        with pytest.raises(ValueError, match="only padding"):
            F.max_pool2d(xo, k, s, p, d, ceil)
        return
    yo, io = F.max_pool2d(xo, k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(yo.data, yt.detach().numpy())
    np.testing.assert_array_equal(io.data, it.numpy())
    _backward_both(yo, yt, seed)
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(w=window(dilation=False), seed=st.integers(0, 2**16), include=st.booleans(),
       divisor=st.sampled_from([None, 1, 3]))
def test_avg_pool2d_like_torch(w, seed, include, divisor):
    torch = pytest.importorskip("torch")
    shape, k, s, p, _, ceil = w
    xo, xt = _pair(shape, seed)
    yt = torch.nn.functional.avg_pool2d(xt, k, s, p, ceil, include, divisor)
    yo = F.avg_pool2d(xo, k, s, p, ceil, include, divisor)
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    _backward_both(yo, yt, seed)
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 9),
                       st.integers(1, 9)),
       out=st.tuples(st.one_of(st.none(), st.integers(1, 10)),
                     st.one_of(st.none(), st.integers(1, 10))),
       seed=st.integers(0, 2**16))
def test_adaptive_pools_like_torch(shape, out, seed):
    torch = pytest.importorskip("torch")
    xo, xt = _pair(shape, seed)
    yt = torch.nn.functional.adaptive_avg_pool2d(xt, out)
    mt, it = torch.nn.functional.adaptive_max_pool2d(xt, out, return_indices=True)
    yo = F.adaptive_avg_pool2d(xo, out)
    mo, io = F.adaptive_max_pool2d(xo, out, return_indices=True)
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(mo.data, mt.detach().numpy())
    np.testing.assert_array_equal(io.data, it.numpy())
    _backward_both(yo + mo * 2, yt + mt * 2, seed)
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(k=st.integers(1, 4), extra=st.tuples(st.integers(0, 3), st.integers(0, 3)),
       blocks=st.tuples(st.integers(1, 4), st.integers(1, 4)), seed=st.integers(0, 2**16))
def test_pool_then_unpool_like_torch(k, extra, blocks, seed):
    torch = pytest.importorskip("torch")
    # non-overlapping windows (stride = kernel) and sizes that pooling floors
    H, W = blocks[0] * k + min(extra[0], k - 1), blocks[1] * k + min(extra[1], k - 1)
    xo, xt = _pair((2, 2, H, W), seed)
    yo, io = F.max_pool2d(xo, k, return_indices=True)
    yt, it = torch.nn.functional.max_pool2d(xt, k, return_indices=True)
    uo = F.max_unpool2d(yo * 3, io, k, output_size=(H, W))
    ut = torch.nn.functional.max_unpool2d(yt * 3, it, k, output_size=(H, W))
    np.testing.assert_array_equal(uo.data, ut.detach().numpy())
    _backward_both(uo, ut, seed)
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


# -- the row-at-a-time max pooling kernel against the window-by-window definition ----------------


@settings(max_examples=40, deadline=None, derandomize=True)
@given(k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
       ceil=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_row_kernel_gives_the_window_by_window_answers(k, s, d, size, ceil, dtype, seed):
    from scratchnet.kernels import pool as K

    span = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
    p = [kk // 2 for kk in k]                       # padding up to half the kernel
    size = [max(n, sp - 2 * pp) for n, sp, pp in zip(size, span, p)]
    out = []
    for n, sp, pp, ss in zip(size, span, p, s):
        o = (n + 2 * pp - sp + (ss - 1 if ceil else 0)) // ss + 1
        if ceil and (o - 1) * ss >= n + pp:         # torch drops a window starting in padding
            o -= 1
        out.append(o)
    rng = np.random.default_rng(seed)
    # few distinct values make ties common; NaN and -inf where they fall
    x = rng.integers(-2, 3, (3, *size)).astype(dtype)
    x[rng.random(x.shape) < 0.05] = np.nan
    x[rng.random(x.shape) < 0.1] = -np.inf
    x[2] = -np.inf                                   # a plane of -inf: first pixel reported
    args = (x, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], out[0], out[1])
    ref_out, ref_idx = K.max_pool2d_window_by_window(*args)
    got_out, got_idx = K.max_pool2d_forward(*args)
    assert got_out.dtype == x.dtype
    np.testing.assert_array_equal(got_out, ref_out)
    np.testing.assert_array_equal(got_idx, ref_idx)


@pytest.mark.parametrize("shape, k, divisor", [((3, 8, 8), (2, 2), 0), ((2, 7, 9), (2, 3), 0),
                                               ((4, 10, 10), (5, 5), 0), ((2, 6, 6), (3, 2), 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiled_avg_pool_kernels_match_the_general_ones(shape, k, divisor, dtype):
    # stride = kernel, no padding: the fast kernels must give the general kernels' numbers
    # bit for bit, including the rows and columns no window reaches (7 and 9 above)
    from scratchnet.kernels import pool as K
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    (kh, kw), (_, H, W) = k, shape
    out_h, out_w = H // kh, W // kw
    general = K.avg_pool2d_forward(x, kh, kw, kh, kw, 0, 0, out_h, out_w, True, divisor)
    tiled = K.avg_pool2d_tiled_forward(x, kh, kw, out_h, out_w, divisor or kh * kw)
    np.testing.assert_array_equal(tiled, general)
    g = rng.standard_normal(general.shape).astype(dtype)
    general = K.avg_pool2d_backward(g, H, W, kh, kw, kh, kw, 0, 0, True, divisor)
    tiled = K.avg_pool2d_tiled_backward(g, H, W, kh, kw, divisor or kh * kw)
    np.testing.assert_array_equal(tiled, general)
    assert tiled.dtype == dtype
