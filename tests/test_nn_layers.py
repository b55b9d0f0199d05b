"""Layer behaviour that stored references cannot show: BatchNorm's and Dropout's train / eval
modes, running statistics against the formulas, error messages that name the layer, the
decks' examples through the layer API, and parameter counts from deck 001. Expected values
are computed here with plain NumPy from the formulas, never with the layer under test."""
import math

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn


def _needs(name):
    """Skip until the functional op a layer wraps exists (it is written alongside)."""
    if not hasattr(F, name):
        pytest.skip(f"scratchnet.nn.functional.{name} is not available yet")


# -- Linear ---------------------------------------------------------------------------------------
def test_linear_is_x_wT_plus_b_on_any_leading_shape():
    lin = nn.Linear(4, 3)
    x = sn.randn(2, 5, 4)
    expected = x.data @ lin.weight.data.T + lin.bias.data
    out = lin(x)
    assert out.shape == (2, 5, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    no_bias = nn.Linear(4, 3, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == ["weight"]
    np.testing.assert_allclose(no_bias(x).data, x.data @ no_bias.weight.data.T, rtol=1e-6)


def test_linear_gradients_are_the_textbook_ones():
    lin = nn.Linear(3, 2).double()
    x = sn.randn(4, 3, dtype="float64", requires_grad=True)
    g = np.random.default_rng(0).standard_normal((4, 2))
    lin(x).backward(g)
    np.testing.assert_allclose(lin.weight.grad.data, g.T @ x.data)
    np.testing.assert_allclose(lin.bias.grad.data, g.sum(0))
    np.testing.assert_allclose(x.grad.data, g @ lin.weight.data)


def test_linear_wrong_in_features_names_the_layer_and_both_sizes():
    lin = nn.Linear(84, 10)
    with pytest.raises(ValueError) as info:
        lin(sn.zeros(32, 120))
    msg = str(info.value)
    assert "Linear(in_features=84, out_features=10" in msg
    assert "120" in msg and "(*, 84)" in msg


def test_linear_dtype_mismatch_is_explained():
    with pytest.raises(TypeError, match="float64"):
        nn.Linear(2, 2)(sn.zeros(1, 2, dtype="float64"))


# -- conv layers ----------------------------------------------------------------------------------
def test_conv2d_wrong_channel_count_names_the_layer():
    conv = nn.Conv2d(3, 16, 3)
    with pytest.raises(ValueError) as info:
        conv(sn.zeros(2, 1, 28, 28))
    msg = str(info.value)
    assert "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1))" in msg
    assert "3 input channels" in msg and "(2, 1, 28, 28)" in msg
    with pytest.raises(ValueError, match="4-D input"):
        conv(sn.zeros(3, 28, 28))


def test_conv_constructor_checks():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(1, 1, 3, stride=2, output_padding=2)


@pytest.mark.parametrize("layer,count", [
    # deck 001: AlexNet conv1, 11 x 11 x 3 x 48 x 2 = 34,848 weights (two GPU halves)
    (lambda: nn.Conv2d(3, 96, 11, stride=4, bias=False), 34_848),
    # deck 001: AlexNet conv3, 3 x 3 x 128 x 192 x 4 = 884,736 (the halves exchange maps)
    (lambda: nn.Conv2d(256, 384, 3, padding=1, bias=False), 884_736),
    # deck 001: two stacked 3x3 convs (128 -> 128) against one 5x5: 294,912 vs 409,600
    (lambda: nn.Sequential(nn.Conv2d(128, 128, 3, bias=False),
                           nn.Conv2d(128, 128, 3, bias=False)), 294_912),
    (lambda: nn.Conv2d(128, 128, 5, bias=False), 409_600),
    # deck 001: AlexNet fc8, 2048 x 2 x 1000 = 4,096,000
    (lambda: nn.Linear(4096, 1000, bias=False), 4_096_000),
    # with biases: LeNet-5's C1 (6 filters of 5x5 + 6 biases) = 156
    (lambda: nn.Conv2d(1, 6, 5), 156),
    # a depthwise 3x3 on 32 channels and the pointwise 1x1 that follows it (deck 004)
    (lambda: nn.Conv2d(32, 32, 3, groups=32, bias=False), 288),
    (lambda: nn.Conv2d(32, 64, 1, bias=False), 2048),
])
def test_parameter_counts_from_the_decks(layer, count):
    assert sum(p.numel() for p in layer().parameters()) == count


def test_conv2d_same_padding_keeps_the_size_and_reflect_mode_pads_by_reflection():
    _needs("conv2d")
    x = sn.randn(1, 2, 5, 6)
    assert nn.Conv2d(2, 3, 3, padding="same")(x).shape == (1, 3, 5, 6)
    assert nn.Conv2d(2, 3, (2, 4), padding="same")(x).shape == (1, 3, 5, 6)
    assert nn.Conv2d(2, 3, 3, padding="valid")(x).shape == (1, 3, 3, 4)
    conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect")
    padded = np.pad(x.data, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
    w, b = conv.weight.data, conv.bias.data
    expected = np.zeros((1, 3, 5, 6), np.float32)
    for i in range(5):
        for j in range(6):
            patch = padded[0, :, i:i + 3, j:j + 3]
            expected[0, :, i, j] = (w * patch).sum(axis=(1, 2, 3)) + b
    np.testing.assert_allclose(conv(x).data, expected, rtol=1e-5, atol=1e-5)


def test_conv_transpose2d_output_size_picks_output_padding():
    _needs("conv_transpose2d")
    up = nn.ConvTranspose2d(2, 1, 3, stride=2, padding=1)
    x = sn.randn(1, 2, 2, 2)
    assert up(x).shape == (1, 1, 3, 3)
    assert up(x, output_size=(4, 4)).shape == (1, 1, 4, 4)      # the decks' 2x2 -> 4x4
    assert up(x, output_size=[1, 1, 3, 4]).shape == (1, 1, 3, 4)
    with pytest.raises(ValueError, match="valid sizes along dimension 0 are 3 to 4"):
        up(x, output_size=(5, 4))


# -- BatchNorm ------------------------------------------------------------------------------------
def test_batchnorm_training_normalises_per_channel_and_updates_running_stats():
    bn = nn.BatchNorm2d(3, momentum=0.1).double()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5)) * np.array([1.0, 3.0, 0.5])[:, None, None] + 2.0
    y = bn(sn.tensor(x)).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)) /
                               (x.var(axis=(0, 2, 3)) + 1e-5), rtol=1e-10)
    m = 4 * 5 * 5
    np.testing.assert_allclose(bn.running_mean.data, 0.1 * x.mean(axis=(0, 2, 3)))
    # the running variance uses the unbiased estimate; the normalisation the biased one
    np.testing.assert_allclose(bn.running_var.data,
                               0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1))
    assert bn.num_batches_tracked.item() == 1
    bn(sn.tensor(x))
    assert bn.num_batches_tracked.item() == 2


def test_batchnorm_eval_uses_running_stats_and_does_not_update_them():
    bn = nn.BatchNorm1d(2)
    bn.running_mean.data[:] = [1.0, -2.0]
    bn.running_var.data[:] = [4.0, 0.25]
    bn.weight.data[:] = [2.0, 1.0]
    bn.bias.data[:] = [0.0, 0.5]
    bn.eval()
    x = np.array([[3.0, -2.0], [1.0, 0.0]], np.float32)
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5) * [2.0, 1.0] + [0, 0.5]
    np.testing.assert_allclose(bn(sn.tensor(x)).data, expected, rtol=1e-6)
    # one sample at a time gives the same answer: the point of evaluation mode
    np.testing.assert_allclose(bn(sn.tensor(x[:1])).data, expected[:1], rtol=1e-6)
    np.testing.assert_array_equal(bn.running_mean.data, [1.0, -2.0])
    assert bn.num_batches_tracked.item() == 0


def test_batchnorm_momentum_none_is_the_cumulative_average():
    bn = nn.BatchNorm1d(3, momentum=None).double()
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((6, 3)) + k for k in range(4)]
    for b in batches:
        bn(sn.tensor(b))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([b.mean(0) for b in batches], 0))
    np.testing.assert_allclose(bn.running_var.data,
                               np.mean([b.var(0, ddof=1) for b in batches], 0))


def test_batchnorm_without_tracking_or_affine():
    bn = nn.BatchNorm2d(2, affine=False, track_running_stats=False)
    assert list(bn.state_dict()) == [] and list(bn.parameters()) == []
    x = sn.randn(3, 2, 2, 2)
    a, b = bn(x).data, bn.eval()(x).data            # batch statistics in both modes
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    no_bias = nn.BatchNorm2d(2, bias=False)
    assert list(no_bias.state_dict())[:2] == ["weight", "running_mean"]


def test_batchnorm_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4.*2-D \(N, C\) or 3-D"):
        nn.BatchNorm1d(4)(sn.zeros(2, 4, 3, 3))
    with pytest.raises(ValueError, match="expects 3 channels"):
        nn.BatchNorm2d(3)(sn.zeros(2, 4, 3, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(4)(sn.zeros(1, 4))
    assert nn.BatchNorm1d(4).eval()(sn.zeros(1, 4)).shape == (1, 4)


def test_batchnorm_keeps_float32_and_float64():
    assert nn.BatchNorm2d(2)(sn.randn(2, 2, 2, 2)).dtype == np.float32
    assert nn.BatchNorm2d(2).double()(sn.randn(2, 2, 2, 2, dtype="float64")).dtype == np.float64


# -- Dropout --------------------------------------------------------------------------------------
def test_dropout_zeroes_about_p_and_scales_survivors():
    sn.manual_seed(0)
    x = sn.ones(200, 500)
    y = nn.Dropout(0.3)(x).data
    dropped = (y == 0).mean()
    assert abs(dropped - 0.3) < 4 * math.sqrt(0.3 * 0.7 / y.size)
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert y.dtype == np.float32


def test_dropout_eval_is_identity_and_gradient_follows_the_mask():
    layer = nn.Dropout(0.5)
    x = sn.randn(4, 6, requires_grad=True)
    assert layer.eval()(x) is x
    layer.train()
    y = layer(x)
    y.sum().backward()
    kept = y.data != 0
    np.testing.assert_allclose(x.grad.data, np.where(kept, 2.0, 0.0))


def test_dropout_masks_are_reproducible_with_manual_seed():
    x = sn.ones(10, 10)
    sn.manual_seed(7)
    a = F.dropout(x, 0.5).data
    sn.manual_seed(7)
    b = F.dropout(x, 0.5).data
    c = F.dropout(x, 0.5).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_dropout_edge_probabilities_and_bad_p():
    x = sn.randn(3, 3)
    np.testing.assert_array_equal(F.dropout(x, 0.0).data, x.data)
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, -0.1)


def test_dropout2d_drops_whole_channels():
    sn.manual_seed(3)
    x = sn.ones(50, 40, 3, 3)
    y = nn.Dropout2d(0.25)(x).data
    planes = y.reshape(50, 40, 9)
    assert np.all((planes == 0).all(axis=2) | (planes != 0).all(axis=2))
    dropped = (planes[:, :, 0] == 0).mean()
    assert abs(dropped - 0.25) < 4 * math.sqrt(0.25 * 0.75 / 2000)
    np.testing.assert_array_equal(nn.Dropout2d().eval()(x).data, x.data)
    with pytest.raises(ValueError, match="4-D"):
        F.dropout2d(sn.ones(2, 3))


# -- LocalResponseNorm ----------------------------------------------------------------------------
def test_lrn_follows_the_formula_written_out():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 7, 3, 3))
    n, alpha, beta, k = 5, 1e-1, 0.75, 2.0
    expected = np.empty_like(a)
    for c in range(7):
        lo, hi = max(0, c - n // 2), min(6, c + (n - 1) // 2)
        s = k + alpha / n * (a[:, lo:hi + 1] ** 2).sum(axis=1)
        expected[:, c] = a[:, c] * s ** -beta
    out = nn.LocalResponseNorm(n, alpha, beta, k)(sn.tensor(a))
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="3 or more"):
        F.local_response_norm(sn.ones(2, 3), 3)


# -- small layers ---------------------------------------------------------------------------------
def test_flatten_identity_and_activation_layers():
    x = sn.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(2)(x).shape == (2, 3, 20)
    assert nn.Identity(54, unused="argument")(x) is x
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(x).data, np.where(x.data > 0, x.data,
                                                                   0.2 * x.data), rtol=1e-6)
    s = nn.Softmax(dim=1)(x).data
    np.testing.assert_allclose(s.sum(axis=1), 1, rtol=1e-6)
    with pytest.warns(UserWarning, match="dim=X"):
        legacy = nn.Softmax()(sn.randn(2, 5))          # PyTorch's old rule: dim 1 for 2-D
    np.testing.assert_allclose(legacy.data.sum(axis=1), 1, rtol=1e-6)


def test_pool_layers_name_themselves_in_op_errors():
    with pytest.raises(ValueError) as info:
        nn.MaxPool2d(3)(sn.zeros(1, 1, 2, 2))
    assert str(info.value).startswith("MaxPool2d(kernel_size=3, stride=3")


def test_max_unpooling_example_of_deck_000_through_the_layers():
    x = sn.tensor([[[[1.0, 2, 3, 4], [5, 6, 7, 8], [9, 8, 7, 6], [5, 4, 3, 2]]]])
    pooled, indices = nn.MaxPool2d(2, return_indices=True)(x)
    np.testing.assert_array_equal(pooled.data[0, 0], [[6, 8], [9, 7]])
    values = sn.tensor([[[[3.0, 4], [5, 6]]]])
    up = nn.MaxUnpool2d(2)(values, indices)
    np.testing.assert_array_equal(up.data[0, 0], [[0, 0, 0, 0], [0, 3, 0, 4], [5, 0, 6, 0],
                                                  [0, 0, 0, 0]])


def test_roi_layers_wrap_the_ops_with_torchvisions_arguments():
    x = sn.randn(2, 3, 8, 9)
    boxes = sn.tensor([[0, 1.0, 1.0, 6.0, 5.0], [1, 0.0, 2.0, 8.0, 7.0]])
    pool = nn.RoIPool((2, 3), spatial_scale=0.5)
    np.testing.assert_array_equal(pool(x, boxes).data,
                                  sn.ops.roi_pool(x, boxes, (2, 3), 0.5).data)
    align = nn.RoIAlign(2, 0.5, sampling_ratio=2, aligned=True)
    np.testing.assert_array_equal(align(x, boxes).data,
                                  sn.ops.roi_align(x, boxes, 2, 0.5, 2, True).data)
    assert repr(pool) == "RoIPool(output_size=(2, 3), spatial_scale=0.5)"
    assert repr(align) == ("RoIAlign(output_size=2, spatial_scale=0.5, sampling_ratio=2, "
                           "aligned=True)")


def test_upsample_layer_repr_and_shape():
    up = nn.Upsample(scale_factor=2, mode="nearest")
    assert repr(up) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert up(sn.randn(1, 2, 3, 4)).shape == (1, 2, 6, 8)
    assert repr(nn.Upsample(size=(4, 5), mode="bilinear")) == \
        "Upsample(size=(4, 5), mode='bilinear')"
