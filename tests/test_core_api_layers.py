"""The torch layers added to the core: LayerNorm, GroupNorm, Unfold/Fold, ReLU6 and the lazy
layers. Op-level gradchecks and stored references are in tests/opcases/core_api.py; here are
the hand-worked values, the module behaviour, the errors and live randomized comparisons."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.nn import functional as F


def test_layer_norm_by_hand():
    # one row [1, 2, 3, 6]: mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5
    x = sn.tensor([[1.0, 2.0, 3.0, 6.0]], dtype=sn.float64)
    y = F.layer_norm(x, (4,), eps=0.0)
    np.testing.assert_allclose(y.data, [[-2, -1, 0, 3]] / np.sqrt(3.5), rtol=1e-12)
    m = nn.LayerNorm(4, eps=0.0).double()
    m.weight.data[:] = [1, 2, 1, 1]
    m.bias.data[:] = 10
    np.testing.assert_allclose(m(x).data, 10 + np.array([[-2, -2, 0, 3]]) / np.sqrt(3.5))


def test_group_norm_by_hand_and_its_special_cases():
    # two groups of one channel each: [0, 2] (mean 1, variance 1) and [5, 11] (8, 9)
    x = sn.tensor(np.array([[[0.0, 2.0], [5.0, 11.0]]]), dtype=sn.float64)   # (1, 2, 2)
    y = F.group_norm(x, 2, eps=0.0)
    np.testing.assert_allclose(y.data[0], [[-1.0, 1.0], [-1.0, 1.0]])
    # one group over both channels: mean 4.5, variance (20.25 + 6.25 + 0.25 + 42.25) / 4
    np.testing.assert_allclose(F.group_norm(x, 1, eps=0.0).data[0],
                               (x.data[0] - 4.5) / np.sqrt(69 / 4))
    # a constant group has zero variance: (x - mean) / sqrt(0 + eps) = 0
    const = sn.tensor(np.full((1, 2, 3), 5.0))
    np.testing.assert_allclose(F.group_norm(const, 2).data, 0.0)
    rng = np.random.default_rng(0)
    a = sn.tensor(rng.standard_normal((2, 4, 3, 3)))
    # one group is layer norm over (C, H, W); C groups is instance norm
    np.testing.assert_allclose(F.group_norm(a, 1).data, F.layer_norm(a, (4, 3, 3)).data,
                               rtol=1e-5, atol=1e-6)
    inst = (a.data - a.data.mean((2, 3), keepdims=True)) / np.sqrt(
        a.data.var((2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(F.group_norm(a, 4).data, inst, rtol=1e-5, atol=1e-6)


def test_norm_layers_keep_float32_and_torchs_state_dict_keys():
    ln, gn = nn.LayerNorm((3, 4)), nn.GroupNorm(2, 6)
    assert list(ln.state_dict()) == ["weight", "bias"] and ln.weight.shape == (3, 4)
    assert list(gn.state_dict()) == ["weight", "bias"] and gn.weight.shape == (6,)
    assert ln(sn.randn(2, 3, 4)).dtype == np.float32
    assert gn(sn.randn(2, 6, 5, 5)).dtype == np.float32
    assert nn.LayerNorm(4, elementwise_affine=False).weight is None
    assert nn.LayerNorm(4, bias=False).bias is None
    # the same answer in train and eval mode, and for a batch of one
    x = sn.randn(1, 6, 2, 2)
    np.testing.assert_array_equal(gn.train()(x).data, gn.eval()(x).data)


def test_norm_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"normalized_shape \(5,\).*last 1.*\(2, 3, 4\)"):
        F.layer_norm(sn.randn(2, 3, 4), 5)
    with pytest.raises(ValueError, match=r"weight must have normalized_shape \(4,\)"):
        F.layer_norm(sn.randn(2, 4), 4, weight=sn.ones(3))
    with pytest.raises(ValueError, match=r"channels \(6\) to be divisible.*6 / 4 = 1.5"):
        F.group_norm(sn.randn(2, 6, 3, 3), 4)
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="expects 6 channels"):
        nn.GroupNorm(2, 6)(sn.randn(2, 4, 3, 3))


def test_unfold_layout_by_hand():
    # 1 image, 1 channel, 3x3 input, 2x2 kernel: 4 windows, each a column of 4 taps
    x = sn.tensor(np.arange(9.0).reshape(1, 1, 3, 3))
    cols = F.unfold(x, 2)
    assert cols.shape == (1, 4, 4)
    np.testing.assert_array_equal(cols.data[0], [[0, 1, 3, 4], [1, 2, 4, 5],
                                                 [3, 4, 6, 7], [4, 5, 7, 8]])
    np.testing.assert_array_equal(nn.Unfold(2)(x).data, cols.data)


def test_fold_sums_overlaps_and_conv_is_weight_times_unfold():
    x = sn.randn(2, 3, 6, 5, dtype=sn.float64)
    cols = F.unfold(x, 3, padding=1)                                # (2, 27, 30)
    # fold(unfold(x)) multiplies each pixel by the number of windows that cover it
    ones = sn.ones(1, 1, 6, 5, dtype=sn.float64)
    cover = F.fold(F.unfold(ones, 3, padding=1), (6, 5), 3, padding=1).data
    np.testing.assert_allclose(F.fold(cols, (6, 5), 3, padding=1).data, x.data * cover)
    assert cover[0, 0, 0, 0] == 4 and cover[0, 0, 2, 2] == 9
    np.testing.assert_allclose(nn.Fold((6, 5), 3, padding=1)(cols).data, x.data * cover)
    w = sn.randn(4, 3, 3, 3, dtype=sn.float64)
    via_unfold = (w.view(4, -1) @ cols).view(2, 4, 6, 5)
    np.testing.assert_allclose(via_unfold.data, F.conv2d(x, w, padding=1).data, rtol=1e-10,
                               atol=1e-12)


def test_fold_and_unfold_errors_show_the_arithmetic():
    with pytest.raises(ValueError, match=r"divisible by the product of kernel_size, 3\*3 = 9"):
        F.fold(sn.randn(1, 10, 9), (5, 5), 3)
    with pytest.raises(ValueError, match=r"holds 3x3 = 9 sliding windows.*L = 8"):
        F.fold(sn.randn(1, 9, 8), (5, 5), 3)
    with pytest.raises(ValueError, match="3-D .* or 4-D"):
        F.unfold(sn.randn(4, 4), 2)
    with pytest.raises(ValueError, match=r"2 \+ 2\*0"):
        F.unfold(sn.randn(1, 1, 2, 2), 3)


def test_relu6_is_in_nn_and_functional():
    x = sn.tensor([-3.0, 2.0, 7.0])
    np.testing.assert_array_equal(F.relu6(x).data, [0.0, 2.0, 6.0])
    assert repr(nn.ReLU6(inplace=True)) == "ReLU6(inplace=True)"


def test_lazy_layers_take_their_sizes_from_the_first_batch():
    sn.manual_seed(0)
    model = nn.Sequential(nn.LazyConv2d(4, 3, padding=1), nn.LazyBatchNorm2d(), nn.ReLU(),
                          nn.Flatten(), nn.LazyLinear(5))
    assert "uninitialized" in repr(model)
    with pytest.raises(ValueError, match="dummy batch"):
        model[0].weight.shape
    y = model(sn.randn(2, 3, 6, 6))
    assert y.shape == (2, 5)
    # they became the plain layers, with torch's default initialisation ranges
    assert [type(m).__name__ for m in model] == ["Conv2d", "BatchNorm2d", "ReLU", "Flatten",
                                                 "Linear"]
    conv, bn, lin = model[0], model[1], model[4]
    assert conv.in_channels == 3 and conv.weight.shape == (4, 3, 3, 3)
    assert bn.num_features == 4 and bn.running_mean.shape == (4,)
    assert lin.in_features == 4 * 6 * 6 and lin.weight.shape == (5, 144)
    bound = 1 / np.sqrt(144)     # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), ...)
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.weight.data).max() > bound / 2
    assert sum(p.numel() for p in model.parameters()) == 4 * 27 + 4 + 4 + 4 + 5 * 144 + 5


def test_lazy_parameters_keep_their_identity_and_train():
    lin = nn.LazyLinear(1)
    w = lin.weight
    lin(sn.ones(3, 2))
    assert lin.weight is w and isinstance(w, nn.Parameter)
    assert not isinstance(w, nn.UninitializedParameter)
    opt = sn.optim.SGD(lin.parameters(), lr=0.1)
    loss = (lin(sn.ones(3, 2)) ** 2).mean()
    loss.backward()
    opt.step()


def test_lazy_layers_load_a_state_dict():
    src = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 2))
    dst = nn.Sequential(nn.LazyConv2d(3, 3), nn.LazyBatchNorm2d(), nn.Flatten(),
                        nn.LazyLinear(2))
    dst.load_state_dict(src.state_dict())
    src.eval(), dst.eval()
    x = sn.randn(1, 2, 4, 4)
    np.testing.assert_array_equal(dst(x).data, src(x).data)
    assert type(dst[3]) is nn.Linear and dst[3].in_features == 12


def test_lazy_conv_checks_groups():
    with pytest.raises(ValueError, match="5 channels, not divisible by groups=2"):
        nn.LazyConv2d(4, 3, groups=2)(sn.randn(1, 5, 4, 4))


@pytest.fixture(scope="module")
def T():
    return pytest.importorskip("torch")


def _live(T, ours, theirs, arrays, seed):
    o_in = [sn.tensor(a, requires_grad=True) for a in arrays]
    t_in = [T.tensor(a, requires_grad=True) for a in arrays]
    o, t = ours(*o_in), theirs(*t_in)
    np.testing.assert_allclose(o.data, t.detach().numpy(), rtol=1e-9, atol=1e-11)
    cot = np.random.default_rng(seed).standard_normal(o.shape)
    (o * sn.tensor(cot)).sum().backward()
    (t * T.tensor(cot)).sum().backward()
    for a, b in zip(o_in, t_in):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("seed", range(6))
def test_live_layer_and_group_norm(T, seed):
    rng = np.random.default_rng(seed)
    n, g = rng.integers(1, 4), int(rng.integers(1, 4))
    c = g * int(rng.integers(1, 3))
    spatial = tuple(rng.integers(1, 5, rng.integers(0, 3)))
    x = rng.standard_normal((n, c) + spatial) * 3 + 1
    w, b = rng.uniform(0.5, 2, c), rng.standard_normal(c)
    _live(T, lambda x, w, b: F.group_norm(x, g, w, b),
          lambda x, w, b: T.nn.functional.group_norm(x, g, w, b), [x, w, b], seed)
    k = int(rng.integers(1, x.ndim))
    shape = x.shape[x.ndim - k:]
    w, b = rng.uniform(0.5, 2, shape), rng.standard_normal(shape)
    _live(T, lambda x, w, b: F.layer_norm(x, shape, w, b),
          lambda x, w, b: T.nn.functional.layer_norm(x, shape, w, b), [x, w, b], seed)


@pytest.mark.parametrize("seed", range(8))
def test_live_unfold_fold(T, seed):
    rng = np.random.default_rng(100 + seed)
    k = tuple(int(v) for v in rng.integers(1, 4, 2))
    s = tuple(int(v) for v in rng.integers(1, 3, 2))
    d = tuple(int(v) for v in rng.integers(1, 3, 2))
    p = tuple(int(v) for v in rng.integers(0, 2, 2))
    hw = tuple(int(v) for v in rng.integers(6, 9, 2))
    x = rng.standard_normal((2, 3) + hw)
    args = dict(kernel_size=k, dilation=d, padding=p, stride=s)
    _live(T, lambda x: F.unfold(x, **args), lambda x: T.nn.functional.unfold(x, **args),
          [x], seed)
    L = T.nn.functional.unfold(T.tensor(x), **args).shape[-1]
    cols = rng.standard_normal((2, 3 * k[0] * k[1], L))
    _live(T, lambda c: F.fold(c, hw, **args), lambda c: T.nn.functional.fold(c, hw, **args),
          [cols], seed)
