"""nn.init and the layers' default initialisation: fans and gains as PyTorch computes them,
bounds, and standard deviations measured on large tensors (with tolerances well above the
sampling error: for n draws the relative error of a std estimate is about 1/sqrt(2n))."""
import math

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.nn import init


def big(*shape, dtype=np.float32):
    return sn.Tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize("name,param,expected", [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5.0 / 3), ("relu", None, math.sqrt(2.0)),
    ("leaky_relu", None, math.sqrt(2.0 / (1 + 0.01 ** 2))),
    ("leaky_relu", 0.2, math.sqrt(2.0 / 1.04)), ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)),
    ("selu", None, 0.75)])
def test_calculate_gain(name, param, expected):
    assert init.calculate_gain(name, param) == pytest.approx(expected, rel=1e-12)


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="gelu"):
        init.calculate_gain("gelu")


@pytest.mark.parametrize("shape,fans", [
    ((10, 20), (20, 10)),                    # Linear (out, in)
    ((16, 3, 5, 5), (75, 400)),              # Conv2d (out, in, kH, kW)
    ((8, 2, 3), (6, 24)),                    # Conv1d
    ((4, 6, 3, 3), (54, 36)),                # ConvTranspose2d (in, out, k, k): torch's rule
])
def test_fan_in_and_fan_out(shape, fans):
    assert init._calculate_fan_in_and_fan_out(big(*shape)) == fans


def test_fan_of_a_vector_is_an_error_that_suggests_what_to_do():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(big(5))


def _std_ok(values, expected, rel=0.03):
    assert float(np.std(values)) == pytest.approx(expected, rel=rel)
    assert abs(float(np.mean(values))) < 4 * expected / math.sqrt(values.size)


def test_kaiming_uniform_bound_and_std():
    w = big(256, 512)
    assert init.kaiming_uniform_(w, a=0, nonlinearity="relu") is w
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 512)
    assert np.abs(w.data).max() <= bound
    assert np.abs(w.data).max() > 0.99 * bound
    _std_ok(w.data, bound / math.sqrt(3))
    assert w.dtype == np.float32


def test_kaiming_normal_fan_out_std():
    w = big(128, 64, 3, 3)
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    _std_ok(w.data, math.sqrt(2.0) / math.sqrt(128 * 9))
    with pytest.raises(ValueError, match="fan_in, fan_out"):
        init.kaiming_normal_(w, mode="fan_avg")


def test_xavier_uniform_and_normal():
    w = big(300, 500)
    init.xavier_uniform_(w, gain=init.calculate_gain("tanh"))
    bound = 5.0 / 3 * math.sqrt(6.0 / 800)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    init.xavier_normal_(w)
    _std_ok(w.data, math.sqrt(2.0 / 800))


def test_uniform_normal_constant_zeros_ones():
    t = big(100000, dtype=np.float64)
    init.uniform_(t, -2.0, 3.0)
    assert t.data.min() >= -2.0 and t.data.max() < 3.0
    assert float(t.data.mean()) == pytest.approx(0.5, abs=0.03)
    init.normal_(t, 1.0, 0.5)
    _std_ok(t.data - 1.0, 0.5)
    init.constant_(t, 0.25)
    assert np.all(t.data == 0.25) and t.dtype == np.float64
    init.zeros_(t)
    assert not t.data.any()
    init.ones_(t)
    assert np.all(t.data == 1)


def test_trunc_normal_stays_inside_and_has_the_truncated_std():
    t = big(200000)
    init.trunc_normal_(t, mean=0.0, std=1.0, a=-2.0, b=2.0)
    assert t.data.min() >= -2.0 and t.data.max() <= 2.0
    # variance of N(0, 1) truncated to [-2, 2]: 1 - 2 * 2 * phi(2) / (Phi(2) - Phi(-2))
    phi = math.exp(-2.0) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    _std_ok(t.data, math.sqrt(1 - 4 * phi / mass))


def test_init_is_reproducible_with_manual_seed_and_a_generator_argument():
    sn.manual_seed(123)
    a = nn.Linear(5, 4).weight.data.copy()
    sn.manual_seed(123)
    b = nn.Linear(5, 4).weight.data.copy()
    sn.manual_seed(124)
    c = nn.Linear(5, 4).weight.data.copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    w1, w2 = big(3, 3), big(3, 3)
    init.normal_(w1, generator=7)
    init.normal_(w2, generator=7)
    np.testing.assert_array_equal(w1.data, w2.data)


def test_zero_element_tensor_is_a_no_op():
    w = big(0, 3)
    assert init.kaiming_uniform_(w) is w


# -- the layers' defaults (PyTorch's rule) --------------------------------------------------------
def test_linear_default_init_is_uniform_one_over_sqrt_fan_in():
    sn.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = lin.weight.data, lin.bias.data
    assert w.dtype == np.float32 and w.shape == (300, 400) and b.shape == (300,)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(b).max() <= bound
    _std_ok(w, bound / math.sqrt(3))


def test_conv_default_init_uses_channels_times_kernel_as_fan_in():
    conv = nn.Conv2d(16, 64, 5)
    bound = 1 / math.sqrt(16 * 25)
    assert np.abs(conv.weight.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.98 * bound
    assert np.abs(conv.bias.data).max() <= bound
    _std_ok(conv.weight.data, bound / math.sqrt(3))
    grouped = nn.Conv2d(16, 32, 3, groups=4)
    assert grouped.weight.shape == (32, 4, 3, 3)
    assert np.abs(grouped.weight.data).max() <= 1 / math.sqrt(4 * 9)


def test_conv_transpose_default_init_follows_torchs_fan_of_the_transposed_weight():
    deconv = nn.ConvTranspose2d(64, 8, 4, stride=2)
    assert deconv.weight.shape == (64, 8, 4, 4)
    bound = 1 / math.sqrt(8 * 16)               # weight.shape[1] * kernel area
    assert np.abs(deconv.weight.data).max() <= bound
    assert np.abs(deconv.weight.data).max() > 0.98 * bound
    assert np.abs(deconv.bias.data).max() <= bound


def test_batchnorm_starts_as_identity_affine_with_fresh_statistics():
    bn = nn.BatchNorm2d(3)
    np.testing.assert_array_equal(bn.weight.data, np.ones(3))
    np.testing.assert_array_equal(bn.bias.data, np.zeros(3))
    np.testing.assert_array_equal(bn.running_mean.data, np.zeros(3))
    np.testing.assert_array_equal(bn.running_var.data, np.ones(3))
    assert bn.num_batches_tracked.item() == 0


def test_default_dtype_and_dtype_argument():
    assert nn.Linear(2, 2, dtype="float64").weight.dtype == np.float64
    assert nn.Conv2d(1, 1, 1, dtype=np.float64).bias.dtype == np.float64
    assert nn.BatchNorm1d(2, dtype="float64").running_mean.dtype == np.float64
    assert nn.Linear(2, 2).weight.dtype == np.float32
