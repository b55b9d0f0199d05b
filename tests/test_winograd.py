"""Winograd's F(2x2, 3x3) (scratchnet/kernels/winograd.py): each transform against its matrix
form in Lavin and Gray (2016), written out below; the convolution and both gradients through
it against the definition (tests/test_conv.py's textbook im2col), in float64 to 1e-12 and in
float32, with blocks and threads cut every way; against PyTorch when installed; a float64
gradient check; inf and NaN as the direct sum has them; and the rule that chooses it.

Expected values never come from the Winograd path itself.
"""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import _threads
from scratchnet.kernels import winograd as KW
from scratchnet.ops import conv as conv_op
from tests.test_conv import _textbook_conv

# Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", section 4.1, F(2x2, 3x3)
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], float)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], float)


def _padded_tiles(image, pad, tiles_hw):
    """(N, C, tiles_h, tiles_w, 4, 4): the 4x4 input tile of each 2x2 output tile, read from
    the image zero-padded by pad = (top, left) (and enough after it)."""
    N, C, H, W = image.shape
    (th, tw), (top, left) = tiles_hw, pad
    big = np.zeros((N, C, 2 * th + 2 + abs(top) + H, 2 * tw + 2 + abs(left) + W))
    oy, ox = max(top, 0), max(left, 0)
    big[:, :, oy:oy + H, ox:ox + W] = image
    y0, x0 = oy - top, ox - left           # where tile (0, 0) starts in big
    tiles = np.empty((N, C, th, tw, 4, 4))
    for ty in range(th):
        for tx in range(tw):
            tiles[:, :, ty, tx] = big[:, :, y0 + 2 * ty:y0 + 2 * ty + 4,
                                      x0 + 2 * tx:x0 + 2 * tx + 4]
    return tiles


# -- each transform against its matrix form ---------------------------------------------------

def test_the_paper_s_matrices_give_two_outputs_of_a_3_tap_correlation():
    # the 1-D identity the module is built on, with small integers: exact
    d, g = np.array([3.0, -1.0, 4.0, 1.0]), np.array([2.0, 7.0, -5.0])
    direct = [d[0] * g[0] + d[1] * g[1] + d[2] * g[2], d[1] * g[0] + d[2] * g[1] + d[3] * g[2]]
    assert (AT @ ((G @ g) * (BT @ d))).tolist() == direct == [-21.0, 21.0]


@pytest.mark.parametrize("flip", [False, True])
def test_filter_transform_is_g_g_gt(flip):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 3, 3, 3))
    U = np.empty((3, 16, 5) if flip else (5, 16, 3))
    KW.filter_transform(w, flip, U)
    for k in range(5):
        for c in range(3):
            g = w[k, c, ::-1, ::-1] if flip else w[k, c]
            got = U[c, :, k] if flip else U[k, :, c]
            np.testing.assert_allclose(got, (G @ g @ G.T).ravel(), rtol=1e-14, atol=1e-14)


def test_filter_grad_is_the_adjoint_of_filter_transform():
    rng = np.random.default_rng(2)
    w, dU = rng.standard_normal((4, 6, 3, 3)), rng.standard_normal((4, 16, 6))
    U, dw = np.empty((4, 16, 6)), np.empty((4, 6, 3, 3))
    KW.filter_transform(w, False, U)
    KW.filter_grad(dU, dw)
    assert np.vdot(U, dU) == pytest.approx(np.vdot(w, dw), rel=1e-13)
    for k, c in [(0, 0), (3, 5), (2, 1)]:
        np.testing.assert_allclose(dw[k, c], G.T @ dU[k, :, c].reshape(4, 4) @ G,
                                   rtol=1e-14, atol=1e-14)


# image (N, C, H, W), output (out_h, out_w), padding (top, left), tile rows r0..r1
TRANSFORM_CASES = [
    ((2, 3, 7, 9), (7, 9), (1, 1), (0, 8)),       # odd sizes: the last tiles hang over
    ((3, 2, 6, 6), (4, 4), (0, 0), (1, 5)),       # no padding, rows of two images
    ((1, 2, 5, 8), (7, 10), (2, 2), (1, 3)),      # wider padding than the kernel's reach
    ((2, 1, 9, 9), (5, 5), (-2, -2), (0, 6)),     # a negative one: the image is cropped
]


@pytest.mark.parametrize("shape,out_hw,pad,rows", TRANSFORM_CASES)
def test_input_transform_is_bt_d_b_on_every_tile(shape, out_hw, pad, rows):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape)
    th, tw = -(-out_hw[0] // 2), -(-out_hw[1] // 2)
    r0, r1 = rows
    V = np.full((shape[1], 16, (r1 - r0) * tw), np.nan)
    KW.input_transform(x.reshape(-1), shape[1], shape[2], shape[3], r0, r1, th, *pad, V)
    tiles = _padded_tiles(x, pad, (th, tw)).transpose(0, 2, 1, 3, 4, 5)   # (N, th, C, ...)
    tiles = tiles.reshape(shape[0] * th, shape[1], tw, 4, 4)[r0:r1]      # tile rows
    want = BT @ tiles @ BT.T                                  # (rows, C, tw, 4, 4)
    want = want.transpose(1, 3, 4, 0, 2).reshape(shape[1], 16, -1)
    np.testing.assert_allclose(V, want, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("out_hw", [(6, 8), (7, 5), (1, 1)])
def test_output_transform_is_at_m_a_cropped_to_the_output(out_hw):
    rng = np.random.default_rng(3)
    N, K = 2, 3
    th, tw = -(-out_hw[0] // 2), -(-out_hw[1] // 2)
    M = rng.standard_normal((K, 16, N * th * tw))
    out = np.full((N, K) + out_hw, np.nan)
    assert KW.output_transform(M, 0, N * th, th, out) == 0
    m = M.reshape(K, 4, 4, N, th, tw).transpose(3, 0, 4, 5, 1, 2)     # (N, K, th, tw, 4, 4)
    y = AT @ m @ AT.T                                                  # (N, K, th, tw, 2, 2)
    full = y.transpose(0, 1, 2, 4, 3, 5).reshape(N, K, 2 * th, 2 * tw)
    np.testing.assert_allclose(out, full[:, :, :out_hw[0], :out_hw[1]], rtol=1e-14,
                               atol=1e-14)


def test_output_transform_counts_what_came_out_inf_or_nan():
    M = np.zeros((1, 16, 4))
    M[0, 0, 1] = np.inf             # tile 1's corner output only
    M[0, 5, 2] = np.nan             # all four outputs of tile 2
    out = np.empty((1, 1, 2, 8))
    assert KW.output_transform(M, 0, 1, 1, out) == 5
    assert np.isposinf(out[0, 0, 0, 2]) and np.isnan(out[0, 0, :, 4:6]).all()


@pytest.mark.parametrize("out_hw", [(6, 8), (5, 7)])
def test_grad_transform_is_a_dy_at_on_every_tile(out_hw):
    rng = np.random.default_rng(4)
    N, K = 3, 2
    th, tw = -(-out_hw[0] // 2), -(-out_hw[1] // 2)
    dy = rng.standard_normal((N, K) + out_hw)
    dM = np.full((K, 16, (N * th - 1) * tw), np.nan)
    KW.grad_transform(dy.reshape(-1), K, *out_hw, 1, N * th, th, dM)
    padded = np.zeros((N, K, 2 * th, 2 * tw))
    padded[:, :, :out_hw[0], :out_hw[1]] = dy
    tiles = padded.reshape(N, K, th, 2, tw, 2).transpose(0, 2, 1, 4, 3, 5)  # (N, th, K, tw, 2, 2)
    want = AT.T @ tiles.reshape(N * th, K, tw, 2, 2)[1:] @ AT                # (rows, K, tw, 4, 4)
    np.testing.assert_allclose(dM, want.transpose(1, 3, 4, 0, 2).reshape(K, 16, -1),
                               rtol=1e-14, atol=1e-14)


# -- the convolution through it ---------------------------------------------------------------

@pytest.fixture
def winograd_everywhere(monkeypatch):
    """The test layers are small: lift the speed rule's sizes (and keep the direct kernel,
    chosen first, away), keep its validity conditions."""
    monkeypatch.setattr(conv_op, "WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(conv_op, "WINOGRAD_MIN_TILES", 1)
    monkeypatch.setattr(conv_op, "DIRECT_MAX_FILTERS", 0)
    calls = []
    real = conv_op._winograd_conv
    monkeypatch.setattr(conv_op, "_winograd_conv",
                        lambda *a, **k: calls.append(k.get("flip", False)) or real(*a, **k))
    return calls


# (N, C, H, W), K, padding
CASES = [
    ((2, 3, 8, 8), 4, (1, 1)),
    ((3, 2, 7, 9), 5, (1, 1)),          # odd sizes
    ((2, 4, 6, 5), 3, (0, 0)),          # valid: the output shrinks by 2
    ((1, 3, 5, 6), 2, (2, 1)),          # full padding one way
    ((2, 2, 9, 7), 3, (3, 0)),          # padding beyond the reach: rows of zeros
    ((1, 1, 3, 3), 1, (0, 0)),          # one output pixel
]


def _through_autograd(x, w, padding):
    xt, wt = sn.tensor(x, requires_grad=True), sn.tensor(w, requires_grad=True)
    out = F.conv2d(xt, wt, padding=padding)
    dy = np.random.default_rng(7).standard_normal(out.shape).astype(x.dtype)
    (out * sn.tensor(dy)).sum().backward()
    return out.data, xt.grad.data, wt.grad.data, dy


@pytest.mark.parametrize("block_tiles", [1, 3, 128])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("shape,K,padding", CASES)
def test_conv2d_and_both_gradients_give_the_definition(monkeypatch, winograd_everywhere, shape,
                                                       K, padding, threads, block_tiles):
    monkeypatch.setattr(_threads, "workers", lambda: threads)
    monkeypatch.setattr(_threads, "MIN_WORK", 0)
    monkeypatch.setattr(conv_op, "WINOGRAD_BLOCK_TILES", block_tiles)
    monkeypatch.setattr(conv_op, "WINOGRAD_GRAD_BLOCK_TILES", block_tiles)
    rng = np.random.default_rng(sum(shape) + K)
    x, w = rng.standard_normal(shape), rng.standard_normal((K, shape[1], 3, 3))
    out, dx, dw, dy = _through_autograd(x, w, padding)
    assert winograd_everywhere == [False, True]         # forward, then the input gradient
    ref_out, ref_dx, ref_dw = _textbook_conv(x, w, dy, (1, 1), padding, (1, 1), 1)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, ref_dw, rtol=1e-12, atol=1e-12)


def test_stride_1_conv_transpose2d_takes_it_both_ways(winograd_everywhere):
    # conv_transpose2d's forward is conv2d's input-gradient pass, its backward the other two
    rng = np.random.default_rng(11)
    y, w = rng.standard_normal((2, 4, 6, 7)), rng.standard_normal((4, 3, 3, 3))
    image = rng.standard_normal((2, 3, 6, 7))
    yt, wt = sn.tensor(y, requires_grad=True), sn.tensor(w, requires_grad=True)
    out = F.conv_transpose2d(yt, wt, padding=1)
    assert out.shape == image.shape
    (out * sn.tensor(image)).sum().backward()
    assert winograd_everywhere == [True, False]
    # <conv_t(y, W), image> = <y, conv(image, W)>
    conv_out, _, conv_dw = _textbook_conv(image, w, y, (1, 1), (1, 1), (1, 1), 1)
    _, conv_dx, _ = _textbook_conv(np.zeros_like(image), w, y, (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(out.data, conv_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(yt.grad.data, conv_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wt.grad.data, conv_dw, rtol=1e-12, atol=1e-12)


def test_a_resnet_layer_in_float32_is_as_close_to_the_definition_as_im2col(monkeypatch):
    # 3x3 at 28 with 64 channels at batch 2 takes it by the default rule
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 64, 28, 28)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) / 24).astype(np.float32)
    g = conv_op._conv_geometry("conv2d", x, w, None, 1, 1, 1, 1)
    assert g.winograd_fits()
    results = [_through_autograd(x, w, 1)]
    monkeypatch.setattr(conv_op, "WINOGRAD_MIN_CHANNELS", 10**9)
    results.append(_through_autograd(x, w, 1))
    ref = _textbook_conv(x.astype(np.float64), w.astype(np.float64),
                         results[0][3].astype(np.float64), (1, 1), (1, 1), (1, 1), 1)
    for name, wino, im2col, want in zip(("out", "dx", "dw"), results[0], results[1], ref):
        assert wino.dtype == np.float32
        scale = np.abs(want).max()
        err_wino, err_im2col = np.abs(wino - want).max(), np.abs(im2col - want).max()
        # F(2x2, 3x3) adds a few roundings to each sum: within 4 times im2col's error
        assert err_wino / scale < 2e-6 and err_wino < 4 * err_im2col, (name, err_wino,
                                                                        err_im2col)


def test_float64_gradcheck_through_winograd(winograd_everywhere):
    rng = np.random.default_rng(5)
    x = sn.tensor(rng.standard_normal((2, 3, 5, 6)), requires_grad=True)
    w = sn.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = sn.tensor(rng.standard_normal(4), requires_grad=True)
    report = sn.gradcheck(lambda *a: F.conv2d(*a, padding=1), (x, w, b))
    assert report.passed, str(report)
    assert winograd_everywhere


def test_the_weight_gradient_is_the_same_from_call_to_call(monkeypatch):
    monkeypatch.setattr(_threads, "workers", lambda: 2)
    monkeypatch.setattr(_threads, "MIN_WORK", 0)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((8, 64, 14, 14)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    g = conv_op._conv_geometry("conv2d", x, w, None, 1, 1, 1, 1)
    assert g.winograd_fits()
    dy = rng.standard_normal(g.grid_shape).astype(np.float32)
    first = conv_op._im2col_pass(g, x, grid=dy)[1]
    for _ in range(5):
        assert np.array_equal(conv_op._im2col_pass(g, x, grid=dy)[1], first)


def test_against_torch_in_float32_and_float64():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    for dtype, tol in [(np.float64, 1e-10), (np.float32, 1e-4)]:
        x = rng.standard_normal((6, 64, 15, 12)).astype(dtype)
        w = (rng.standard_normal((96, 64, 3, 3)) / 24).astype(dtype)
        b = rng.standard_normal(96).astype(dtype)
        assert conv_op._conv_geometry("conv2d", x, w, b, 1, 1, 1, 1).winograd_fits()
        ts = [sn.tensor(a, requires_grad=True) for a in (x, w, b)]
        out = F.conv2d(*ts, padding=1)
        dy = rng.standard_normal(out.shape).astype(dtype)
        (out * sn.tensor(dy)).sum().backward()
        tt = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        ref = torch.nn.functional.conv2d(*tt, padding=1)
        ref.backward(torch.tensor(dy))
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=tol, atol=tol)
        for a, t in zip(ts, tt):
            np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=tol, atol=tol)


# -- inf and NaN ------------------------------------------------------------------------------

def test_inf_and_nan_reach_exactly_the_outputs_whose_window_covers_them(winograd_everywhere):
    # in a tile an inf pixel meets -inf (d0 - d2, d1 + d2, ...): the pass is computed again
    # the direct way, which gives what PyTorch and the definition give
    x = np.zeros((2, 2, 8, 10))
    x[1, 0, 4, 4] = np.nan
    x[0, 1, 0, 9] = np.inf
    w = np.ones((3, 2, 3, 3))
    xt, wt = sn.tensor(x, requires_grad=True), sn.tensor(w, requires_grad=True)
    out = F.conv2d(xt, wt, padding=1)
    out.sum().backward()
    nan = np.zeros(out.shape, bool)
    nan[1, :, 3:6, 3:6] = True
    inf = np.zeros(out.shape, bool)
    inf[0, :, 0:2, 8:10] = True
    np.testing.assert_array_equal(np.isnan(out.data), nan)
    np.testing.assert_array_equal(np.isposinf(out.data), inf)
    assert (out.data[~(nan | inf)] == 0).all()
    assert winograd_everywhere[0] is False      # it was tried first
    # every weight of channel 0 reads the NaN; channel 1's taps i <= 1, j >= 1 the inf
    dw = wt.grad.data
    assert np.isnan(dw[:, 0]).all()
    want = np.zeros((3, 3), bool)
    want[0:2, 1:3] = True
    np.testing.assert_array_equal(np.isposinf(dw[:, 1]), np.broadcast_to(want, (3, 3, 3)))


def test_an_inf_in_the_output_gradient_reaches_the_input_gradient_as_by_definition(
        winograd_everywhere):
    x = np.zeros((1, 2, 6, 6))
    w = np.ones((2, 2, 3, 3))
    xt = sn.tensor(x, requires_grad=True)
    out = F.conv2d(xt, sn.tensor(w), padding=1)
    dy = np.zeros(out.shape)
    dy[0, 0, 2, 3] = np.inf
    (out * sn.tensor(dy)).sum().backward()
    want = np.zeros((1, 2, 6, 6), bool)
    want[0, :, 1:4, 2:5] = True
    np.testing.assert_array_equal(np.isposinf(xt.grad.data), want)
    assert (xt.grad.data[~want] == 0).all()


def test_tile_rows_are_cut_into_blocks_a_multiple_of_the_threads(monkeypatch):
    monkeypatch.setattr(_threads, "workers", lambda: 2)
    # 3x3 at 28, batch 8: 112 rows of 14 tiles; 256 tiles a block would make 7 blocks of 18
    # rows or fewer (4 on one thread, 3 on the other): 8 blocks of 14, 4 each
    tiles_h, tiles_w, runs = conv_op._tile_runs(8, (28, 28), 128 * 128, 256)
    assert (tiles_h, tiles_w) == (14, 14)
    assert runs == [[(r, r + 14) for r in range(0, 56, 14)],
                    [(r, r + 14) for r in range(56, 112, 14)]]
    # an odd output, 5 images of 4 x 5 tiles, 15 tiles a block: 20 rows in 7 blocks of 3
    # rows or fewer; 3 threads: 9 blocks of 2 or 3 rows, 3 each
    monkeypatch.setattr(_threads, "workers", lambda: 3)
    monkeypatch.setattr(_threads, "MIN_WORK", 0)
    tiles_h, tiles_w, runs = conv_op._tile_runs(5, (7, 9), 64 * 64, 15)
    assert (tiles_h, tiles_w) == (4, 5)
    assert runs == [[(0, 2), (2, 4), (4, 6)], [(6, 8), (8, 11), (11, 13)],
                    [(13, 15), (15, 17), (17, 20)]]
    # no more blocks than rows
    assert conv_op._tile_runs(1, (4, 40), 64 * 64, 100)[2] == [[(0, 1)], [(1, 2)]]
    # too little work for two threads: one run, blocks as asked
    monkeypatch.setattr(_threads, "MIN_WORK", 10**12)
    assert conv_op._tile_runs(2, (8, 8), 64 * 64, 8)[2] == [[(r, r + 2) for r in range(0, 8, 2)]]


# -- the rule ---------------------------------------------------------------------------------

@pytest.mark.parametrize("x,w,kws,fits", [
    ((8, 64, 56, 56), (64, 64, 3, 3), dict(padding=1), True),        # ResNet-18's layers
    ((16, 512, 7, 7), (512, 512, 3, 3), dict(padding=1), True),      # 256 tiles
    ((8, 512, 7, 7), (512, 512, 3, 3), dict(padding=1), False),      # 128 tiles
    ((16, 512, 2, 2), (512, 512, 3, 3), dict(padding=1), False),     # 16 tiles: too thin
    ((64, 256, 4, 4), (256, 256, 3, 3), dict(padding=1), True),      # 256 tiles
    ((8, 64, 56, 56), (128, 64, 3, 3), dict(padding=1, stride=2), False),
    ((8, 64, 56, 56), (64, 64, 3, 3), dict(padding=2, dilation=2), False),
    ((8, 64, 56, 56), (64, 32, 3, 3), dict(padding=1, groups=2), False),
    ((8, 32, 56, 56), (64, 32, 3, 3), dict(padding=1), False),       # 32 channels in
    ((8, 64, 56, 56), (32, 64, 3, 3), dict(padding=1), False),       # ... or out
    ((8, 64, 56, 56), (64, 64, 5, 5), dict(padding=2), False),
    ((8, 64, 56, 56), (64, 64, 3, 1), dict(padding=1), False),
])
def test_the_rule(x, w, kws, fits):
    g = conv_op._conv_geometry("conv2d", np.empty(x, np.float32), np.empty(w, np.float32),
                               None, kws.get("stride", 1), kws["padding"],
                               kws.get("dilation", 1), kws.get("groups", 1))
    assert g.winograd_fits() == fits
