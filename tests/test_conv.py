"""Convolution beyond the stored references: the decks' worked examples, the identities that
define transposed convolution and col2im, the error messages, dtypes and memory, and (with
torch installed) randomized comparisons with PyTorch.

Expected values here come from the definition, written out by hand in plain NumPy, or from the
decks; never from the code under test.
"""
import os

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.kernels.im2col import col2im, im2col
from scratchnet.ops import conv as conv_op

HERE = os.path.dirname(os.path.abspath(__file__))


def t64(a, grad=False):
    return sn.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def cross_correlate(x, k):
    """The definition, one output at a time: out[y, t] = sum_ij k[i, j] * x[y + i, t + j]."""
    kh, kw = k.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for y in range(out.shape[0]):
        for t in range(out.shape[1]):
            out[y, t] = np.sum(x[y:y + kh, t:t + kw] * k)
    return out


def scatter_kernel_copies(x, k, stride):
    """Transposed convolution by the slides' recipe: every input pixel drops a copy of the
    kernel scaled by its value, `stride` pixels apart; overlaps are summed. No trimming."""
    H, W = x.shape
    kh, kw = k.shape
    full = np.zeros(((H - 1) * stride + kh, (W - 1) * stride + kw))
    for a in range(H):
        for b in range(W):
            full[a * stride:a * stride + kh, b * stride:b * stride + kw] += x[a, b] * k
    return full


# -- deck 004: CNN basics ------------------------------------------------------------------

DECK_X = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
DECK_K = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]


def test_deck004_5x5_input_3x3_filter_feature_map():
    out = F.conv2d(t64([[DECK_X]]), t64([[DECK_K]]))
    np.testing.assert_array_equal(out.data[0, 0], [[4, 3, 4], [2, 4, 3], [2, 3, 4]])


def test_deck004_first_output_is_the_elementwise_product_sum():
    # the slide's first window: 1*1 + 1*0 + 1*1 + 0*0 + 1*1 + 1*0 + 0*1 + 0*0 + 1*1 = 4
    out = F.conv2d(t64([[DECK_X]]), t64([[DECK_K]]))
    assert out.data[0, 0, 0, 0] == 4


def test_deck004_7x7_input_3x3_filter_stride_1_and_2():
    x = sn.randn(1, 1, 7, 7)
    w = sn.randn(1, 1, 3, 3)
    assert F.conv2d(x, w).shape == (1, 1, 5, 5)
    assert F.conv2d(x, w, stride=2).shape == (1, 1, 3, 3)
    # stride 3 does not fit; PyTorch (and F.conv2d) round down, the strict size check refuses
    assert F.conv2d(x, w, stride=3).shape == (1, 1, 2, 2)
    with pytest.raises(ValueError, match=r"\(7 \+ 2\*0 - 3\)/3 \+ 1 = 2\.33"):
        sn.conv_output_size(7, 3, 3, strict=True)


def test_deck004_padding_k_minus_1_over_2_keeps_the_size():
    x = sn.randn(1, 1, 7, 7)
    for k in (3, 5, 7):
        assert F.conv2d(x, sn.randn(1, 1, k, k), padding=(k - 1) // 2).shape == (1, 1, 7, 7)


def test_deck004_3x32x32_image_six_3x5x5_filters():
    image = sn.randn(3, 32, 32)
    filters = sn.randn(6, 3, 5, 5)
    assert F.conv2d(image, filters).shape == (6, 28, 28)
    # "two images, six filters: two sets of six activation maps"
    assert F.conv2d(sn.randn(2, 3, 32, 32), filters).shape == (2, 6, 28, 28)


def test_deck004_one_activation_map_is_a_dot_product_per_position():
    rng = np.random.default_rng(0)
    image, filt = rng.standard_normal((3, 32, 32)), rng.standard_normal((3, 5, 5))
    out = F.conv2d(t64(image), t64(filt[None])).data[0]
    for y, t in [(0, 0), (27, 27), (13, 4)]:
        assert out[y, t] == pytest.approx(np.sum(image[:, y:y + 5, t:t + 5] * filt))


def test_deck004_1x1_convolution_mixes_channels_per_pixel():
    # 56x56x64 through 32 filters of 1x1x64 -> 56x56x32: a matrix product at every pixel
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 64, 56, 56)), rng.standard_normal((32, 64, 1, 1))
    out = F.conv2d(t64(x), t64(w)).data
    assert out.shape == (2, 32, 56, 56)
    np.testing.assert_allclose(out, np.einsum("kc,nchw->nkhw", w[:, :, 0, 0], x), rtol=1e-12,
                               atol=1e-12)


def test_deck004_transposed_conv_3x3_stride2_pad1_2x2_to_4x4():
    rng = np.random.default_rng(2)
    x, k = rng.standard_normal((2, 2)), rng.standard_normal((3, 3))
    full = scatter_kernel_copies(x, k, 2)            # 5x5: the slide's "trim one pixel"
    assert full.shape == (5, 5)
    y = F.conv_transpose2d(t64(x[None, None]), t64(k[None, None]), stride=2, padding=1,
                           output_padding=1).data[0, 0]
    assert y.shape == (4, 4)
    np.testing.assert_allclose(y, full[1:, 1:], rtol=1e-12)
    # without output_padding the padding trims both ends: 3x3
    y3 = F.conv_transpose2d(t64(x[None, None]), t64(k[None, None]), stride=2, padding=1)
    np.testing.assert_allclose(y3.data[0, 0], full[1:4, 1:4], rtol=1e-12)


def test_deck004_transposed_conv_1d_example():
    # input [a, b], filter [x, y, z], stride 2 -> [ax, ay, az + bx, by, bz]
    a, b, x, y, z = 2.0, 3.0, 5.0, 7.0, 11.0
    out = F.conv_transpose2d(t64([[[[a, b]]]]), t64([[[[x, y, z]]]]), stride=(1, 2))
    np.testing.assert_array_equal(out.data.ravel(), [a * x, a * y, a * z + b * x, b * y, b * z])
    # to get exactly 2 x 2 = 4 outputs one pixel goes: trim both ends, add one at the end
    out4 = F.conv_transpose2d(t64([[[[a, b]]]]), t64([[[[x, y, z]]]]), stride=(1, 2),
                              padding=(0, 1), output_padding=(0, 1))
    np.testing.assert_array_equal(out4.data.ravel(), [a * y, a * z + b * x, b * y, b * z])


def test_deck004_conv_matrix_4x4_input_3x3_kernel():
    w = np.arange(1.0, 10.0).reshape(3, 3)           # w00 .. w22 = 1 .. 9
    C = sn.conv_matrix(w, (4, 4)).data
    assert C.shape == (4, 16)
    # row r is output pixel r of the 2x2 output; its window starts at input pixel
    # (r // 2, r % 2) and covers 3 runs of 3 pixels, 4 apart (the input's row length)
    expected = np.zeros((4, 16))
    for r, start in enumerate([0, 1, 4, 5]):
        for i in range(3):
            expected[r, start + 4 * i:start + 4 * i + 3] = w[i]
    np.testing.assert_array_equal(C, expected)
    # The slide's 16x4 C^T agrees in its first two columns. Its last two start at rows 2 and
    # 3; the windows of outputs (1, 0) and (1, 1) start at input pixels 4 and 5, as above.
    assert list(np.nonzero(C[2])[0][:3]) == [4, 5, 6]


def test_conv_matrix_times_image_is_conv2d_and_its_transpose_is_conv_transpose2d():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((1, 1, 3, 3))
    x = rng.standard_normal((4, 4))
    C = sn.conv_matrix(w, (1, 4, 4))
    np.testing.assert_allclose((C @ t64(x.ravel())).data, cross_correlate(x, w[0, 0]).ravel(),
                               rtol=1e-12)
    y = rng.standard_normal((2, 2))
    up = F.conv_transpose2d(t64(y[None, None]), t64(w)).data.ravel()
    np.testing.assert_allclose((C.T @ t64(y.ravel())).data, up, rtol=1e-12)


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), ((2, 1), (0, 2), 1),
                                                     (1, 1, 2)])
def test_conv_matrix_matches_conv2d_with_channels(stride, padding, dilation):
    rng = np.random.default_rng(4)
    w = rng.standard_normal((3, 2, 3, 2))
    x = rng.standard_normal((2, 6, 5))
    C = sn.conv_matrix(t64(w), (2, 6, 5), stride=stride, padding=padding, dilation=dilation)
    out = F.conv2d(t64(x), t64(w), stride=stride, padding=padding, dilation=dilation)
    np.testing.assert_allclose(C.data @ x.ravel(), out.data.ravel(), rtol=1e-10, atol=1e-12)
    y = rng.standard_normal(out.shape)
    # the transpose of that matrix is the input gradient, i.e. the transposed convolution
    xt = t64(x, grad=True)
    (F.conv2d(xt, t64(w), stride=stride, padding=padding, dilation=dilation) * t64(y)).sum() \
        .backward()
    np.testing.assert_allclose(C.data.T @ y.ravel(), xt.grad.data.ravel(), rtol=1e-10,
                               atol=1e-12)


# -- deck 000: transposed convolution in FCN upsampling ---------------------------------------

DECK0_X = [[1, -1], [0, 1]]
DECK0_K = [[-1, 1, -1], [1, 0, 1], [-1, 1, -1]]


def test_deck000_transposed_conv_overlaps_are_summed():
    x, k = np.array(DECK0_X, float), np.array(DECK0_K, float)
    expected = scatter_kernel_copies(x, k, 2)[1:5, 1:5]     # trim pad=1, output_padding=1
    np.testing.assert_array_equal(expected, [[0, 0, 0, -1], [1, -1, 0, 0], [0, 1, 0, 1],
                                             [0, -1, 1, -1]])
    y = F.conv_transpose2d(t64([[x]]), t64([[k]]), stride=2, padding=1, output_padding=1)
    assert y.shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(y.data[0, 0], expected)


def test_deck000_first_input_pixel_alone_gives_the_slides_partial_output():
    # The slide's 4x4 output shows [[0, 1], [1, -1]] in its top-left corner: the copy of the
    # kernel dropped by the first input pixel (value 1), trimmed by the padding, before the
    # other pixels add theirs.
    k = np.array(DECK0_K, float)
    y = F.conv_transpose2d(t64([[[[1, 0], [0, 0]]]]), t64([[k]]), stride=2, padding=1,
                           output_padding=1)
    np.testing.assert_array_equal(y.data[0, 0, :2, :2], [[0, 1], [1, -1]])


# -- deck 003: filters as operations --------------------------------------------------------

def test_deck003_1d_convolution_with_kernel_one_fifth_is_a_moving_average():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(20)
    out = F.conv1d(t64(x[None, None]), t64(np.full((1, 1, 5), 0.2))).data.ravel()
    moving = np.array([x[i:i + 5].mean() for i in range(16)])
    np.testing.assert_allclose(out, moving, rtol=1e-12)


def test_deck003_box_blur_and_sobel():
    rng = np.random.default_rng(6)
    img = rng.uniform(0, 255, (8, 9))
    blur = F.conv2d(t64(img[None, None]), t64(np.full((1, 1, 3, 3), 1 / 9))).data[0, 0]
    np.testing.assert_allclose(blur, cross_correlate(img, np.full((3, 3), 1 / 9)), rtol=1e-12)
    # a vertical edge: dark columns 0-3, bright 4-8; Sobel-x answers only where it straddles
    edge = np.zeros((6, 9))
    edge[:, 4:] = 10.0
    sobel_x = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    out = F.conv2d(t64(edge[None, None]), t64(sobel_x[None, None])).data[0, 0]
    expected = np.zeros((4, 7))
    expected[:, 2:4] = 40.0                          # (1 + 2 + 1) * 10 at columns 2 and 3
    np.testing.assert_array_equal(out, expected)


def test_deck003_convolution_is_cross_correlation_with_the_flipped_kernel():
    rng = np.random.default_rng(7)
    x, k = rng.standard_normal((6, 7)), rng.standard_normal((3, 2))
    # the textbook convolution: out[y, t] = sum_ij k[i, j] * x[y - i + kh - 1, t - j + kw - 1]
    true_conv = np.zeros((4, 6))
    for y in range(4):
        for t in range(6):
            true_conv[y, t] = sum(k[i, j] * x[y + 2 - i, t + 1 - j]
                                  for i in range(3) for j in range(2))
    w = t64(k[None, None])
    flipped = F.conv2d(t64(x[None, None]), sn.flip(w, (2, 3))).data[0, 0]
    np.testing.assert_allclose(flipped, true_conv, rtol=1e-12)
    plain = F.conv2d(t64(x[None, None]), w).data[0, 0]
    assert not np.allclose(plain, true_conv)        # an asymmetric kernel tells them apart


def test_deck003_valid_same_full_padding():
    x, w = sn.randn(1, 1, 5, 5), sn.randn(1, 1, 3, 3)
    assert F.conv2d(x, w, padding="valid").shape == (1, 1, 3, 3)
    assert F.conv2d(x, w, padding="same").shape == (1, 1, 5, 5)
    assert F.conv2d(x, w, padding=2).shape == (1, 1, 7, 7)       # full: k - 1 on each side


def test_deck001_003_vgg_two_3x3_see_what_one_5x5_sees():
    # two stacked 3x3 convolutions: one output depends on exactly a 5x5 patch of the input
    rng = np.random.default_rng(8)
    x = t64(rng.standard_normal((1, 1, 9, 9)), grad=True)
    w1, w2 = t64(rng.uniform(0.5, 1, (1, 1, 3, 3))), t64(rng.uniform(0.5, 1, (1, 1, 3, 3)))
    y = F.conv2d(F.conv2d(x, w1), w2)
    assert y.shape == F.conv2d(x, sn.randn(1, 1, 5, 5, dtype="float64")).shape == (1, 1, 5, 5)
    y[0, 0, 2, 2].backward()
    rows, cols = np.nonzero(x.grad.data[0, 0])
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (2, 6, 2, 6)
    # parameters for C = 128 channels: 2 * 3*3*128*128 against 5*5*128*128
    assert 2 * sn.randn(128, 128, 3, 3).numel() == 294_912
    assert sn.randn(128, 128, 5, 5).numel() == 409_600


def test_deck001_alexnet_conv1_shape_and_parameters():
    w = sn.zeros(96, 3, 11, 11)
    assert w.numel() == 34_848
    assert F.conv2d(sn.zeros(1, 3, 227, 227), w, stride=4).shape == (1, 96, 55, 55)
    assert sn.conv_output_size(227, 11, 4) == 55


# -- identities ------------------------------------------------------------------------------

TRANSPOSE_CONFIGS = [
    # (N, C_in of conv_t, H, W, C_out, kernel, stride, padding, output_padding, dilation, groups)
    (2, 3, 4, 5, 2, (3, 3), 1, 0, 0, 1, 1),
    (1, 2, 3, 3, 3, (3, 3), 2, 1, 1, 1, 1),
    (3, 4, 3, 4, 6, (2, 3), (2, 3), (1, 0), (1, 2), 1, 2),
    (2, 4, 4, 4, 4, (3, 3), 1, 1, 1, 2, 4),
    (2, 2, 5, 3, 2, (4, 4), 2, 1, 0, 1, 1),
]


@pytest.mark.parametrize("cfg", TRANSPOSE_CONFIGS)
def test_conv_transpose2d_is_the_input_gradient_of_conv2d(cfg):
    N, cin, H, W, cout, k, s, p, op, d, g = cfg
    rng = np.random.default_rng(9)
    y = rng.standard_normal((N, cin, H, W))
    w = rng.standard_normal((cin, cout // g) + k)
    up = F.conv_transpose2d(t64(y), t64(w), stride=s, padding=p, output_padding=op,
                            groups=g, dilation=d)
    # the conv2d whose input has the transposed convolution's output size maps back to y's
    # size; with output_padding >= stride (allowed when the dilation is larger) it gives one
    # more row/column, which y does not cover
    x = t64(np.zeros(up.shape), grad=True)
    out = F.conv2d(x, t64(w), stride=s, padding=p, dilation=d, groups=g)
    if max(np.broadcast_to(op, 2) - np.broadcast_to(s, 2)) < 0:
        assert out.shape == y.shape
    (out[:, :, :H, :W] * t64(y)).sum().backward()
    np.testing.assert_allclose(up.data, x.grad.data, rtol=1e-12, atol=1e-12)


def naive_im2col(x, k, s, p, d, out):
    N, C, H, W = x.shape
    cols = np.zeros((C * k[0] * k[1], N * out[0] * out[1]))
    for c in range(C):
        for i in range(k[0]):
            for j in range(k[1]):
                for n in range(N):
                    for y in range(out[0]):
                        for t in range(out[1]):
                            h, v = y * s[0] - p[0] + i * d[0], t * s[1] - p[1] + j * d[1]
                            if 0 <= h < H and 0 <= v < W:
                                cols[(c * k[0] + i) * k[1] + j,
                                     (n * out[0] + y) * out[1] + t] = x[n, c, h, v]
    return cols


IM2COL_CONFIGS = [
    # (N, C, H, W), kernel, stride, padding (top, left), dilation
    ((2, 3, 5, 7), (3, 2), (1, 2), (1, 0), (1, 2)),
    ((1, 2, 6, 6), (3, 3), (2, 2), (1, 1), (1, 1)),
    ((3, 1, 4, 9), (2, 5), (3, 1), (2, 3), (2, 1)),
    ((2, 2, 7, 7), (3, 3), (3, 3), (0, 0), (1, 1)),
    ((1, 3, 3, 3), (1, 1), (1, 1), (0, 0), (1, 1)),
]


def _out_size(shape, k, s, p, d):
    return tuple((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1
                 for n, kk, ss, pp, dd in zip(shape[2:], k, s, p, d))


@pytest.mark.parametrize("shape,k,s,p,d", IM2COL_CONFIGS)
def test_im2col_copies_each_receptive_field_into_a_column(shape, k, s, p, d):
    x = np.random.default_rng(10).standard_normal(shape)
    out = _out_size(shape, k, s, p, d)
    np.testing.assert_array_equal(im2col(x, k, s, p, d, out), naive_im2col(x, k, s, p, d, out))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,k,s,p,d", IM2COL_CONFIGS)
def test_col2im_is_the_adjoint_of_im2col(shape, k, s, p, d, dtype):
    rng = np.random.default_rng(11)
    out = _out_size(shape, k, s, p, d)
    for _ in range(3):
        x = rng.standard_normal(shape).astype(dtype)
        cols = im2col(x, k, s, p, d, out)
        c = rng.standard_normal(cols.shape).astype(dtype)
        back = col2im(c, shape, k, s, p, d, out)
        assert back.dtype == dtype
        lhs = np.vdot(cols.astype(np.float64), c.astype(np.float64))
        rhs = np.vdot(x.astype(np.float64), back.astype(np.float64))
        tol = 1e-12 if dtype == np.float64 else 1e-4
        assert lhs == pytest.approx(rhs, rel=tol, abs=tol * np.sqrt(c.size))


def test_col2im_sums_overlapping_windows():
    # 3x3 windows, stride 1, on a 4x4 image: pixel (1, 1) lies in all 4 windows, (0, 0) in 1
    ones = np.ones((9, 4))
    counts = col2im(ones, (1, 1, 4, 4), (3, 3), (1, 1), (0, 0), (1, 1), (2, 2))[0, 0]
    np.testing.assert_array_equal(counts, [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2],
                                           [1, 2, 2, 1]])


# -- chunking, layouts, dtypes, memory ------------------------------------------------------

def _stored_case(name):
    store = np.load(os.path.join(HERE, "reference", "conv.npz"))
    keys = sorted(k for k in store.files if k.startswith(name + "|"))
    return {k.split("|")[1]: store[k] for k in keys}


@pytest.mark.parametrize("name,fn", [
    ("conv2d_stride2_nonsquare", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1))),
    ("conv_t_nonsquare", lambda x, w: F.conv_transpose2d(
        x, w, stride=(2, 3), padding=(1, 0), output_padding=(1, 2))),
])
def test_one_image_per_chunk_gives_the_same_answers(monkeypatch, name, fn):
    # a budget of one byte forces one image per column buffer: the chunk loop must be exact
    monkeypatch.setattr(conv_op, "COLUMN_BUDGET_BYTES", 1)
    ref = _stored_case(name)
    n_in = sum(1 for k in ref if k.startswith("in"))
    ins = [t64(ref[f"in{i}"], grad=True) for i in range(n_in)]
    assert ins[0].shape[0] == 3
    out = fn(*ins)
    np.testing.assert_allclose(out.data, ref["out0"], rtol=1e-10, atol=1e-10)
    (out * t64(ref["cot0"])).sum().backward()
    for i, t in enumerate(ins):
        np.testing.assert_allclose(t.grad.data, ref[f"grad{i}"], rtol=1e-10, atol=1e-10)


def _textbook_conv(x, w, dy, stride, padding, dilation, groups):
    """conv2d forward, input and weight gradients by the definition: one strided slice of the
    zero-padded input per kernel tap (the textbook im2col, in plain NumPy)."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    N, C, H, W = x.shape
    K, Cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = dy.shape[2:]
    taps = [(i, j, (slice(None), slice(None), slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                    slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)))
            for i in range(kh) for j in range(kw)]
    out = np.zeros((N, K, oh, ow))
    dxp, dwt = np.zeros_like(xp), np.zeros_like(w)
    Kg = K // groups
    for g in range(groups):
        ks, cs = slice(g * Kg, (g + 1) * Kg), slice(g * Cg, (g + 1) * Cg)
        for i, j, sl in taps:
            patch = xp[sl][:, cs]                                   # (N, Cg, oh, ow)
            out[:, ks] += np.einsum("kc,ncyx->nkyx", w[ks, :, i, j], patch)
            dwt[ks, :, i, j] += np.einsum("nkyx,ncyx->kc", dy[:, ks], patch)
            dxp[sl][:, cs] += np.einsum("kc,nkyx->ncyx", w[ks, :, i, j], dy[:, ks])
    return out, dxp[:, :, ph:ph + H, pw:pw + W], dwt


@pytest.mark.parametrize("rows_per_band", [1, 2, 3])
def test_bands_of_output_rows_give_the_definition(monkeypatch, rows_per_band):
    # a budget smaller than one image's columns cuts each image into bands of output rows;
    # the bands of the input gradient overlap (3 taps high, stride 1 in rows) and add up
    rng = np.random.default_rng(21)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 2))
    kws = dict(stride=(1, 2), padding=(1, 2), dilation=(2, 1), groups=2)
    out_h, out_w = 7, 6
    dy = rng.standard_normal((2, 6, out_h, out_w))
    per_row = 4 * 3 * 2 * out_w * x.itemsize
    monkeypatch.setattr(conv_op, "COLUMN_BUDGET_BYTES", rows_per_band * per_row)
    g = conv_op._conv_geometry("conv2d", x, w, None, **kws)
    assert {y1 - y0 for _, b, y0, y1 in g.chunks(8)} >= {rows_per_band}
    assert all(b == 1 for _, b, _, _ in g.chunks(8))
    xt, wt = t64(x, grad=True), t64(w, grad=True)
    out = F.conv2d(xt, wt, **kws)
    (out * t64(dy)).sum().backward()
    ref_out, ref_dx, ref_dw = _textbook_conv(x, w, dy, (1, 2), (1, 2), (2, 1), 2)
    np.testing.assert_allclose(out.data, ref_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xt.grad.data, ref_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wt.grad.data, ref_dw, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pixels", [1, 10**6])
def test_weight_gradient_either_orientation_gives_the_definition(monkeypatch, pixels):
    # the weight gradient is summed transposed (cols @ grid.T) from this many output pixels
    monkeypatch.setattr(conv_op, "_DW_TRANSPOSED_FROM_PIXELS", pixels)
    monkeypatch.setattr(conv_op, "MIN_CHUNK_COLUMNS", 1)
    monkeypatch.setattr(conv_op, "COLUMN_BUDGET_BYTES", 2 * 18 * 25 * 8)   # 2 images a chunk
    rng = np.random.default_rng(22)
    x = rng.standard_normal((5, 2, 5, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    dy = rng.standard_normal((5, 3, 5, 5))
    xt, wt = t64(x, grad=True), t64(w, grad=True)
    (F.conv2d(xt, wt, padding=1) * t64(dy)).sum().backward()
    ref_out, ref_dx, ref_dw = _textbook_conv(x, w, dy, (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(wt.grad.data, ref_dw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xt.grad.data, ref_dx, rtol=1e-12, atol=1e-12)


def test_non_contiguous_input_and_weight():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 8, 7))
    w = rng.standard_normal((4, 3, 3, 3))
    xt = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # same values
    wt = np.asfortranarray(w)
    assert not xt.flags.c_contiguous and not wt.flags.c_contiguous
    a = F.conv2d(sn.from_numpy(xt), sn.from_numpy(wt), stride=2, padding=1).data
    b = F.conv2d(t64(x), t64(w), stride=2, padding=1).data
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("op", ["conv2d", "conv1d", "conv_transpose2d"])
def test_float32_stays_float32_and_float64_stays_float64(op):
    shapes = {"conv2d": ((2, 3, 6, 6), (4, 3, 3, 3), 4),
              "conv1d": ((2, 3, 6), (4, 3, 3), 4),
              "conv_transpose2d": ((2, 3, 4, 4), (3, 4, 3, 3), 4)}[op]
    fn = getattr(F, op)
    for dtype in ("float32", "float64"):
        x = sn.randn(*shapes[0], dtype=dtype, requires_grad=True)
        w = sn.randn(*shapes[1], dtype=dtype, requires_grad=True)
        b = sn.randn(shapes[2], dtype=dtype, requires_grad=True)
        y = fn(x, w, b, stride=2)
        assert y.dtype == np.dtype(dtype)
        y.sum().backward()
        assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.dtype(dtype)


@pytest.mark.parametrize("groups,k", [(1, 3), (2, 3), (4, 3), (1, 1)])
def test_backward_keeps_the_input_not_the_columns(groups, k):
    x = sn.randn(2, 4, 9, 9, requires_grad=True)
    w = sn.randn(4, 4 // groups, k, k, requires_grad=True)
    y = F.conv2d(x, w, groups=groups, padding=1)
    saved = y._node.ctx.saved_arrays
    assert [a.shape for a in saved] == [x.shape, w.shape]
    with sn.no_grad():
        assert F.conv2d(x, w, groups=groups, padding=1)._node is None
    # a frozen layer (only the bias trains) keeps nothing
    b = sn.randn(4, requires_grad=True)
    assert F.conv2d(x.detach(), w.detach(), b, groups=groups)._node.ctx.saved_arrays == ()


def test_gradients_only_for_what_requires_grad():
    x = sn.randn(2, 3, 6, 6)
    w = sn.randn(4, 3, 3, 3, requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad is not None
    x = sn.randn(2, 4, 5, 5, requires_grad=True)
    wt = sn.randn(4, 2, 3, 3)
    F.conv_transpose2d(x, wt, stride=2).sum().backward()
    assert x.grad is not None and wt.grad is None


@pytest.mark.parametrize("fn,x,w,kw", [
    (F.conv2d, (0, 3, 6, 6), (4, 3, 3, 3), dict(padding=1)),
    (F.conv2d, (0, 4, 5, 5), (6, 4, 1, 1), {}),
    (F.conv2d, (0, 4, 6, 6), (4, 1, 3, 3), dict(groups=4)),
    (F.conv2d, (2, 3, 6, 6), (0, 3, 3, 3), {}),
    (F.conv_transpose2d, (0, 3, 4, 4), (3, 2, 3, 3), dict(stride=2)),
])
def test_empty_batch_or_no_filters_give_empty_results(fn, x, w, kw):
    # PyTorch accepts these; the gradients are all zeros of the right shapes
    xt, wt = sn.randn(*x, requires_grad=True), sn.randn(*w, requires_grad=True)
    y = fn(xt, wt, **kw)
    assert 0 in y.shape
    y.sum().backward()
    assert xt.grad.shape == x and wt.grad.shape == w
    assert not xt.grad.data.any() and not wt.grad.data.any()


def test_depthwise_matches_per_channel_definition():
    rng = np.random.default_rng(13)
    x, w = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((6, 1, 3, 2))
    out = F.conv2d(t64(x), t64(w), groups=3).data        # channel multiplier 2
    for n in range(2):
        for k in range(6):
            np.testing.assert_allclose(out[n, k], cross_correlate(x[n, k // 2], w[k, 0]),
                                       rtol=1e-12)


# -- errors ----------------------------------------------------------------------------------

def test_error_channel_mismatch_names_layer_expected_and_received():
    with pytest.raises(ValueError) as e:
        F.conv2d(sn.randn(1, 4, 8, 8), sn.randn(16, 3, 3, 3))
    msg = str(e.value)
    assert "conv2d(4->16, k=3)" in msg
    assert "input has 4 channels" in msg and "3 * 1 = 3" in msg


def test_error_channel_mismatch_with_groups():
    with pytest.raises(ValueError, match=r"weight.shape\[1\] \* groups = 2 \* 2 = 4"):
        F.conv2d(sn.randn(1, 6, 8, 8), sn.randn(4, 2, 3, 3), groups=2)


def test_error_groups_must_divide_channels():
    with pytest.raises(ValueError, match=r"groups=2 must divide the 3 output channels, but "
                                         r"3 % 2 = 1"):
        F.conv2d(sn.randn(1, 4, 8, 8), sn.randn(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"groups=2 must divide the 3 input channels"):
        F.conv_transpose2d(sn.randn(1, 3, 4, 4), sn.randn(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        F.conv2d(sn.randn(1, 4, 8, 8), sn.randn(4, 4, 3, 3), groups=0)


def test_error_kernel_larger_than_padded_input_shows_the_formula():
    with pytest.raises(ValueError) as e:
        F.conv2d(sn.randn(1, 1, 3, 8), sn.randn(2, 1, 5, 3), padding=(0, 1))
    msg = str(e.value)
    assert msg.startswith("conv2d(1->2, k=5x3, p=0x1) height:")
    assert "window spans 5 pixels but the padded input is only 3 + 2*0 = 3" in msg
    assert "(3 + 2*0 - 5)/1 + 1 = -1" in msg
    with pytest.raises(ValueError, match=r"conv1d\(2->2, k=4, d=2\) length: the window spans 7"):
        F.conv1d(sn.randn(1, 2, 5), sn.randn(2, 2, 4), dilation=2)


def test_error_output_size_below_1_shows_the_formula():
    with pytest.raises(ValueError) as e:
        F.conv_transpose2d(sn.randn(1, 2, 1, 3), sn.randn(2, 2, 1, 1), padding=1)
    msg = str(e.value)
    assert "conv_transpose2d(2->2, k=1, p=1) height: output size -1 < 1" in msg
    assert "(1 - 1)*1 - 2*1 + 1*(1 - 1) + 0 + 1 = -1" in msg
    with pytest.raises(ValueError, match=r"output size -1 < 1"):
        sn.conv_transpose_output_size(1, 1, 1, 1)


def test_error_wrong_rank():
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-D \(N, C, H, W\) input or a 3-D "
                                         r"\(C, H, W\) unbatched one, got a 2-D input of shape "
                                         r"\(5, 5\)"):
        F.conv2d(sn.randn(5, 5), sn.randn(1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"expected a 3-D \(N, C, L\) input.*5-D"):
        F.conv1d(sn.randn(1, 1, 1, 1, 5), sn.randn(1, 1, 3))
    with pytest.raises(ValueError, match=r"expected a 4-D weight, got shape \(3, 3\)"):
        F.conv2d(sn.randn(1, 1, 5, 5), sn.randn(3, 3))


def test_error_int_input_with_float_weight_is_a_type_error():
    x = sn.tensor(np.arange(25).reshape(1, 1, 5, 5))
    with pytest.raises(TypeError, match=r"conv2d: the input is int64 but the weight is float32; "
                                        r"call .float\(\) on the input"):
        F.conv2d(x, sn.randn(1, 1, 3, 3))
    with pytest.raises(TypeError, match="input is float32 but the weight is float64"):
        F.conv_transpose2d(sn.randn(1, 1, 3, 3), sn.randn(1, 1, 3, 3, dtype="float64"))
    with pytest.raises(TypeError, match="the weight must be float32 or float64, got int64"):
        F.conv2d(x, sn.tensor(np.ones((1, 1, 3, 3), dtype=np.int64)))


def test_error_bias_and_arguments():
    x, w = sn.randn(1, 3, 6, 6), sn.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"the bias must have shape \(4,\).*got \(3,\)"):
        F.conv2d(x, w, sn.randn(3))
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match=r"padding must be >= 0, got -1"):
        F.conv2d(x, w, padding=-1)
    with pytest.raises(ValueError, match=r"padding must be an int or a pair, got \(1, 1, 1\)"):
        F.conv2d(x, w, padding=(1, 1, 1))
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match="padding must be 'valid', 'same'"):
        F.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match=r"output_padding must be smaller than the stride \(2\) "
                                         r"or the dilation \(1\), got 2"):
        F.conv_transpose2d(sn.randn(1, 3, 4, 4), sn.randn(3, 2, 3, 3), stride=2,
                           output_padding=2)
    with pytest.raises(ValueError, match=r"the weight \(4, 2, 3, 3\) expects weight.shape\[0\] "
                                         r"= 4"):
        F.conv_transpose2d(sn.randn(1, 3, 4, 4), sn.randn(4, 2, 3, 3))


# -- output-size helpers ---------------------------------------------------------------------

def test_output_size_helpers_and_explanations():
    assert sn.conv_output_size(7, 3, 2) == 3
    assert sn.conv_output_size(32, 5) == 28
    assert sn.conv_transpose_output_size(2, 3, 2, 1, 1) == 4
    assert sn.conv_transpose_output_size(16, 4, 2, 1) == 32      # the FCN x2 upsampler
    text = sn.explain_conv_output_size(7, 3, s=2)
    assert "(W - K + 2P)/S + 1" in text and "(7 - 3 + 2*0)/2 + 1" in text
    assert text.endswith("= 3")
    assert "not whole" in sn.explain_conv_output_size(7, 3, s=3)
    assert "does not fit" in sn.explain_conv_output_size(3, 5)
    assert "K = 2*(3 - 1) + 1 = 5" in sn.explain_conv_output_size(9, 3, d=2)
    t = sn.explain_conv_transpose_output_size(2, 3, s=2, p=1, output_padding=1)
    assert "(2 - 1)*2 - 2*1 + 1*(3 - 1) + 1 + 1 = 4" in t
    assert "5 pixels" in t


# -- randomized comparison with PyTorch --------------------------------------------------------

def _torch_check(fn_ours, fn_theirs, arrays, torch):
    ts = [t64(a, grad=True) for a in arrays]
    out = fn_ours(*ts)
    cot = np.random.default_rng(0).standard_normal(out.shape)
    (out * t64(cot)).sum().backward()
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    ref = fn_theirs(*tt)
    (ref * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-9, atol=1e-9)
    for a, b in zip(ts, tt):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-9, atol=1e-9)


def _hypothesis():
    return pytest.importorskip("hypothesis")


def test_conv2d_random_against_torch():
    torch = pytest.importorskip("torch")
    hyp = _hypothesis()
    st = hyp.strategies

    @hyp.settings(max_examples=40, deadline=None, derandomize=True)
    @hyp.given(n=st.integers(1, 3), cg=st.integers(1, 3), kg=st.integers(1, 3),
               g=st.integers(1, 3), k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
               s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
               p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
               d=st.tuples(st.integers(1, 2), st.integers(1, 2)), bias=st.booleans(),
               data=st.data())
    def check(n, cg, kg, g, k, s, p, d, bias, data):
        # sizes drawn after the window so that it always fits the padded input
        h, w = (data.draw(st.integers(max(1, dd * (kk - 1) + 1 - 2 * pp), 9))
                for kk, pp, dd in zip(k, p, d))
        rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
        arrays = [rng.standard_normal((n, cg * g, h, w)),
                  rng.standard_normal((kg * g, cg) + k)]
        if bias:
            arrays.append(rng.standard_normal(kg * g))
        kws = dict(stride=s, padding=p, dilation=d, groups=g)
        _torch_check(lambda *a: F.conv2d(*a, **kws),
                     lambda *a: torch.nn.functional.conv2d(*a, **kws), arrays, torch)

    check()


def test_conv_transpose2d_random_against_torch():
    torch = pytest.importorskip("torch")
    hyp = _hypothesis()
    st = hyp.strategies

    @hyp.settings(max_examples=40, deadline=None, derandomize=True)
    @hyp.given(n=st.integers(1, 3), cg=st.integers(1, 3), kg=st.integers(1, 3),
               g=st.integers(1, 3), hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
               k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
               s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
               d=st.tuples(st.integers(1, 2), st.integers(1, 2)), bias=st.booleans(),
               data=st.data())
    def check(n, cg, kg, g, hw, k, s, d, bias, data):
        # output_padding below the stride or the dilation; padding that leaves an output
        op = tuple(data.draw(st.integers(0, max(ss, dd) - 1)) for ss, dd in zip(s, d))
        p = tuple(data.draw(st.integers(0, min(2, ((h - 1) * ss + dd * (kk - 1) + o) // 2)))
                  for h, kk, ss, dd, o in zip(hw, k, s, d, op))
        rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
        arrays = [rng.standard_normal((n, cg * g) + hw),
                  rng.standard_normal((cg * g, kg) + k)]
        if bias:
            arrays.append(rng.standard_normal(kg * g))
        kws = dict(stride=s, padding=p, output_padding=op, groups=g, dilation=d)
        _torch_check(lambda *a: F.conv_transpose2d(*a, **kws),
                     lambda *a: torch.nn.functional.conv_transpose2d(*a, **kws), arrays, torch)

    check()


def test_conv1d_same_padding_random_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    for k in range(1, 6):
        for d in (1, 2, 3):
            arrays = [rng.standard_normal((2, 3, 11)), rng.standard_normal((4, 3, k))]
            _torch_check(lambda *a: F.conv1d(*a, padding="same", dilation=d),
                         lambda *a: torch.nn.functional.conv1d(*a, padding="same", dilation=d),
                         arrays, torch)
