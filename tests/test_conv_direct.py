"""The direct convolution kernel (scratchnet/kernels/conv_direct.py) against the definition,
against the im2col + GEMM path, against PyTorch (when installed) and a float64 gradient check,
plus the rule that chooses it.

Expected values come from the definition written out in plain NumPy (tests/test_conv.py's
textbook im2col), from the im2col path, or from PyTorch; never from the direct kernel itself.
"""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.ops import conv as conv_op
from tests.test_conv import _textbook_conv

# (N, C, H, W), K, (kh, kw), padding, dilation: 3- and 5-wide kernels, square and not,
# channel counts that are not a multiple of the kernel's block of 4 filters, padding wider
# than the kernel's reach, maps small enough that several images share the wide rows,
# batches that those blocks do not divide
CASES = [
    ((2, 3, 7, 9), 5, (3, 3), (1, 1), (1, 1)),
    ((3, 2, 8, 6), 6, (5, 5), (2, 2), (1, 1)),
    ((2, 3, 11, 12), 7, (3, 3), (0, 0), (2, 2)),
    ((2, 3, 11, 12), 4, (5, 5), (3, 1), (2, 1)),
    ((5, 1, 6, 5), 1, (2, 3), (0, 1), (1, 1)),
    ((7, 6, 14, 14), 16, (5, 5), (0, 0), (1, 1)),       # LeNet conv2, fewer images
    ((3, 16, 16, 16), 20, (5, 5), (2, 2), (1, 1)),      # ConvNetJS conv2
    ((2, 4, 5, 5), 3, (1, 5), (4, 4), (1, 1)),          # padding beyond the reach
    ((1, 2, 4, 4), 2, (4, 3), (0, 0), (1, 1)),          # output is one row
]


@pytest.fixture(autouse=True)
def direct_wherever_valid(monkeypatch):
    """The test maps are tiny, so most of the kernel's work would be padding and rounding and
    the speed rule would pick im2col: lift that one condition, keep the validity ones."""
    monkeypatch.setattr(conv_op, "DIRECT_MIN_USEFUL", 0.0)


def _ids(cases):
    return [f"{c[0]}->{c[1]} k{c[2]} p{c[3]} d{c[4]}" for c in cases]


def _conv(x, w, padding, dilation, dy):
    """Forward, input and weight gradients through the public API."""
    xt = sn.tensor(x, requires_grad=True)
    wt = sn.tensor(w, requires_grad=True)
    out = F.conv2d(xt, wt, padding=padding, dilation=dilation)
    (out * sn.tensor(dy)).sum().backward()
    return out.data, xt.grad.data, wt.grad.data


def _data(case, dtype, seed=0):
    shape, K, k, p, d = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((K, shape[1]) + k).astype(dtype)
    oh = shape[2] + 2 * p[0] - d[0] * (k[0] - 1)
    ow = shape[3] + 2 * p[1] - d[1] * (k[1] - 1)
    dy = rng.standard_normal((shape[0], K, oh, ow)).astype(dtype)
    return x, w, dy


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_the_cases_take_the_direct_path_both_ways(case):
    x, w, dy = _data(case, np.float64)
    g = conv_op._conv_geometry("conv2d", x, w, None, 1, case[3], case[4], 1)
    assert g.direct_fits(), "forward"
    assert g.direct_fits(input_grad=True), "input gradient"


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_direct_matches_the_definition_float64(case):
    x, w, dy = _data(case, np.float64)
    out, dx, dw = _conv(x, w, case[3], case[4], dy)
    ref_out, ref_dx, ref_dw = _textbook_conv(x, w, dy, (1, 1), case[3], case[4], 1)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, ref_dw, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_direct_matches_the_im2col_path(monkeypatch, case, dtype, tol):
    x, w, dy = _data(case, dtype, seed=1)
    direct = _conv(x, w, case[3], case[4], dy)
    monkeypatch.setattr(conv_op, "DIRECT_MAX_FILTERS", 0)
    gemm = _conv(x, w, case[3], case[4], dy)
    for a, b, what in zip(direct, gemm, ("out", "dx", "dw")):
        assert a.dtype == dtype, what
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale, err_msg=what)


def test_same_padding_with_an_even_kernel_height_and_unbatched_input():
    # padding='same' with kh = 4 pads one row more below than above
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 6, 7))
    w = rng.standard_normal((5, 3, 4, 5))
    out = F.conv2d(sn.tensor(x), sn.tensor(w), padding="same")
    xp = np.pad(x, ((0, 0), (1, 2), (2, 2)))
    ref = np.einsum("kcij,cyxij->kyx", w,
                    np.lib.stride_tricks.sliding_window_view(xp, (4, 5), axis=(1, 2)))
    np.testing.assert_allclose(out.data, ref, rtol=1e-12, atol=1e-12)


def test_nan_and_inf_reach_exactly_the_outputs_whose_window_covers_them():
    x = np.zeros((2, 2, 9, 10))
    x[1, 0, 4, 4] = np.nan
    x[0, 1, 0, 9] = np.inf
    w = np.ones((3, 2, 5, 5))
    out = F.conv2d(sn.tensor(x), sn.tensor(w), padding=2).data
    nan = np.zeros(out.shape, bool)
    nan[1, :, 2:7, 2:7] = True
    inf = np.zeros(out.shape, bool)
    inf[0, :, 0:3, 7:10] = True
    np.testing.assert_array_equal(np.isnan(out), nan)
    np.testing.assert_array_equal(np.isposinf(out), inf)
    assert (out[~(nan | inf)] == 0).all()


def test_conv1d_and_stride1_conv_transpose2d_take_it_too():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 20))
    w = rng.standard_normal((6, 4, 5))
    out = F.conv1d(sn.tensor(x), sn.tensor(w), padding=2).data
    xp = np.pad(x, ((0, 0), (0, 0), (2, 2)))
    ref = np.einsum("kcj,ncxj->nkx", w,
                    np.lib.stride_tricks.sliding_window_view(xp, 5, axis=2))
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    # conv_transpose2d(y, W) with stride 1 is the input gradient of conv2d: a direct pass
    y = rng.standard_normal((2, 6, 5, 6))
    wt = rng.standard_normal((6, 3, 3, 3))
    ct = F.conv_transpose2d(sn.tensor(y), sn.tensor(wt), padding=1).data
    ref_dx = _textbook_conv(np.zeros((2, 3, 5, 6)), wt, y, (1, 1), (1, 1), (1, 1), 1)[1]
    np.testing.assert_allclose(ct, ref_dx, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kws,weight,why", [
    (dict(stride=2), (4, 3, 5, 5), "strided"),
    (dict(groups=3), (6, 1, 3, 3), "grouped"),
    (dict(), (4, 3, 3, 4), "a 4-wide kernel"),
    (dict(), (4, 3, 7, 7), "a 7-wide kernel"),
    (dict(), (conv_op.DIRECT_MAX_FILTERS + 1, 3, 3, 3), "too many filters"),
    (dict(), (4, conv_op.DIRECT_MAX_ROWS // 9 + 1, 3, 3), "too many rows"),
])
def test_the_rule_leaves_other_convolutions_to_im2col(kws, weight, why):
    x = np.zeros((1, weight[1] * kws.get("groups", 1), 12, 12))
    g = conv_op._conv_geometry("conv2d", x, np.zeros(weight), None, kws.get("stride", 1), 0,
                               1, kws.get("groups", 1))
    assert not g.direct_fits(), why
    if why == "too many filters":       # its input gradient makes 3 channels from 33
        assert g.direct_fits(input_grad=True)
    else:
        assert not g.direct_fits(input_grad=True), why


@pytest.mark.parametrize("shape,K,k,padding,forward,input_grad", [
    ((32, 3, 32, 32), 16, 5, 2, True, True),       # ConvNetJS conv1
    ((64, 1, 32, 32), 6, 5, 0, True, False),       # LeNet conv1: one input channel to make
    ((64, 6, 14, 14), 16, 5, 0, True, False),      # LeNet conv2: 6 channels of a block of 8
])
def test_the_rule_skips_passes_that_would_mostly_waste_work(monkeypatch, shape, K, k, padding,
                                                            forward, input_grad):
    monkeypatch.undo()
    x, w = np.zeros(shape, np.float32), np.zeros((K, shape[1], k, k), np.float32)
    g = conv_op._conv_geometry("conv2d", x, w, None, 1, padding, 1, 1)
    assert g.direct_fits() == forward
    assert g.direct_fits(input_grad=True) == input_grad
    # the weight gradient: direct with the forward pass, but not beside a GEMM input gradient
    assert g.direct_weight_grad_fits(with_input_grad=False) == forward
    assert g.direct_weight_grad_fits(with_input_grad=True) == (forward and input_grad)


def test_float64_gradcheck_through_the_direct_path():
    rng = np.random.default_rng(5)
    x = sn.tensor(rng.standard_normal((3, 3, 6, 7)), requires_grad=True)
    w = sn.tensor(rng.standard_normal((5, 3, 5, 3)), requires_grad=True)
    b = sn.tensor(rng.standard_normal(5), requires_grad=True)
    report = sn.gradcheck(lambda *a: F.conv2d(*a, padding=(2, 1), dilation=(1, 2)), (x, w, b))
    assert report.passed, str(report)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_direct_against_torch(dtype, tol):
    torch = pytest.importorskip("torch")
    for case in CASES:
        x, w, dy = _data(case, dtype, seed=2)
        ours = _conv(x, w, case[3], case[4], dy)
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        ref = torch.nn.functional.conv2d(xt, wt, padding=case[3], dilation=case[4])
        ref.backward(torch.tensor(dy))
        for a, b, what in zip(ours, (ref.detach(), xt.grad, wt.grad), ("out", "dx", "dw")):
            b = b.numpy()
            scale = max(1.0, float(np.abs(b).max()))
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale,
                                       err_msg=f"{what} {case}")


def test_same_padding_gradients_against_torch():
    # 'same' with a 4-high kernel pads one row more below than above: the forward, the
    # input gradient and the weight gradient all see it
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 3, 7, 9))
    w = rng.standard_normal((5, 3, 4, 5))
    dy = rng.standard_normal((3, 5, 7, 9))
    xt, wt = sn.tensor(x, requires_grad=True), sn.tensor(w, requires_grad=True)
    out = F.conv2d(xt, wt, padding="same", dilation=(1, 2))
    (out * sn.tensor(dy)).sum().backward()
    xr, wr = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ref = torch.nn.functional.conv2d(xr, wr, padding="same", dilation=(1, 2))
    ref.backward(torch.tensor(dy))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xt.grad.data, xr.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(wt.grad.data, wr.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_the_weight_gradient_takes_the_direct_path_and_matches_the_definition(monkeypatch):
    # 40 images of 20x20 with a 5x5 kernel: one image per block, 40 blocks shared by 32
    # slots (some of two blocks), and 6 filters, a block of 4 and one of 2
    from scratchnet.kernels import conv_direct as KDIR
    x, w, dy = _data(((40, 3, 20, 20), 6, (5, 5), (2, 2), (1, 1)), np.float64, seed=7)
    g = conv_op._conv_geometry("conv2d", x, w, None, 1, 2, 1, 1)
    B = KDIR.direct_geometry(x.shape, (5, 5), (20, 20), (1, 1))[0]
    assert (B, KDIR.weight_grad_slots(40, B)) == (1, KDIR.WEIGHT_GRAD_SLOTS)
    calls = []
    kernel = KDIR.direct_conv2d_weight_grad
    monkeypatch.setattr(KDIR, "direct_conv2d_weight_grad",
                        lambda *a: calls.append(a[2].shape) or kernel(*a))
    _, dw = conv_op._im2col_pass(g, x, grid=dy)
    assert calls == [(KDIR.WEIGHT_GRAD_SLOTS, 6, 3, 5, 5)]
    ref = _textbook_conv(x, w, dy, (1, 1), (2, 2), (1, 1), 1)[2]
    np.testing.assert_allclose(dw, ref, rtol=1e-12, atol=1e-12)


def test_the_weight_gradient_does_not_change_with_the_number_of_threads():
    # each slot sums a fixed run of images and the slots are added in order: the same bits
    # whatever number of threads ran them
    numba = pytest.importorskip("numba")
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has one thread here (NUMBA_NUM_THREADS=1): nothing to compare")
    x, w, dy = _data(((32, 16, 16, 16), 20, (5, 5), (2, 2), (1, 1)), np.float32, seed=8)
    g = conv_op._conv_geometry("conv2d", x, w, None, 1, 2, 1, 1)
    before = numba.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 1):
            numba.set_num_threads(threads)
            results.append(conv_op._im2col_pass(g, x, grid=dy)[1])
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_nan_and_inf_reach_exactly_the_weights_whose_taps_see_them():
    # the weight gradient's sums are reordered for speed (conv_direct.py): NaN and inf still
    # go through, to the taps that read the pixel and to no other weight
    x = np.zeros((2, 2, 9, 10))
    x[1, 0, 4, 4] = np.nan          # the middle: every tap of channel 0 reads it
    x[0, 1, 0, 9] = np.inf          # the top right corner: taps i <= 2 and j >= 2 read it
    xt = sn.tensor(x)
    wt = sn.tensor(np.ones((3, 2, 5, 5)), requires_grad=True)
    F.conv2d(xt, wt, padding=2).sum().backward()
    dw = wt.grad.data
    assert np.isnan(dw[:, 0]).all()
    inf = np.zeros((3, 5, 5), bool)
    inf[:, 0:3, 2:5] = True
    np.testing.assert_array_equal(np.isposinf(dw[:, 1]), inf)
    assert (dw[:, 1][~inf] == 0).all()


@pytest.mark.parametrize("x_needs_grad", [True, False])
def test_the_weight_gradient_stays_with_blas_next_to_a_blas_input_gradient(monkeypatch,
                                                                           x_needs_grad):
    # LeNet conv2: the forward pass is direct, the input gradient (16 -> 6 channels) a GEMM;
    # the weight gradient joins the GEMM, unless no input gradient is computed at all (a
    # network's first layer)
    monkeypatch.undo()
    from scratchnet.kernels import conv_direct as KDIR
    x, w, dy = _data(((64, 6, 14, 14), 16, (5, 5), (0, 0), (1, 1)), np.float64, seed=9)
    g = conv_op._conv_geometry("conv2d", x, w, None, 1, 0, 1, 1)
    assert g.direct_fits() and not g.direct_fits(input_grad=True)
    calls = []
    kernel = KDIR.direct_conv2d_weight_grad
    monkeypatch.setattr(KDIR, "direct_conv2d_weight_grad",
                        lambda *a: calls.append(1) or kernel(*a))
    xt = sn.tensor(x, requires_grad=x_needs_grad)
    wt = sn.tensor(w, requires_grad=True)
    (F.conv2d(xt, wt) * sn.tensor(dy)).sum().backward()
    assert len(calls) == (0 if x_needs_grad else 1)
    ref = _textbook_conv(x, w, dy, (1, 1), (0, 0), (1, 1), 1)[2]
    np.testing.assert_allclose(wt.grad.data, ref, rtol=1e-12, atol=1e-12)
