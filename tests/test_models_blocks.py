"""The named blocks a lesson shows on their own: what each one computes, checked against the
formula written out with NumPy or against the identity it must reduce to, plus the errors a
student meets when a block is wired wrong."""
from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.models as M
from scratchnet import nn
from scratchnet.models.googlenet import InceptionBlock


def _x(*shape, seed=0, dtype=np.float64):
    return sn.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


# -- ChannelShuffle -----------------------------------------------------------------------------
def test_channel_shuffle_interleaves_the_groups():
    # channels [a0 a1 a2 | b0 b1 b2] -> [a0 b0 a1 b1 a2 b2], each plane marked by its index
    x = sn.tensor(np.arange(6, dtype=np.float32).reshape(1, 6, 1, 1) * np.ones((1, 1, 2, 2),
                                                                               np.float32))
    y = M.ChannelShuffle(2)(x)
    assert y.data[0, :, 0, 0].tolist() == [0, 3, 1, 4, 2, 5]
    assert M.ChannelShuffle(3)(x).data[0, :, 1, 1].tolist() == [0, 2, 4, 1, 3, 5]
    assert y.dtype == np.float32


def test_channel_shuffle_gradient_is_the_inverse_permutation():
    x = _x(2, 6, 3, 3)
    x.requires_grad_(True)
    g = np.random.default_rng(1).standard_normal((2, 6, 3, 3))
    (M.ChannelShuffle(2)(x) * sn.tensor(g)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, g[:, [0, 2, 4, 1, 3, 5]])


def test_channel_shuffle_error_names_the_counts():
    with pytest.raises(ValueError, match=r"ChannelShuffle\(groups=4\): 6 channels"):
        M.ChannelShuffle(4)(_x(1, 6, 2, 2))


# -- SEBlock ------------------------------------------------------------------------------------
def test_se_block_is_squeeze_excite_scale():
    block = M.SEBlock(32, reduction=16).double()
    x = _x(2, 32, 5, 4)
    y = block(x).data
    w1, b1 = block.fc1.weight.data, block.fc1.bias.data
    w2, b2 = block.fc2.weight.data, block.fc2.bias.data
    z = x.data.mean(axis=(2, 3))                                  # squeeze
    s = 1 / (1 + np.exp(-(np.maximum(z @ w1.T + b1, 0) @ w2.T + b2)))   # excite
    np.testing.assert_allclose(y, x.data * s[:, :, None, None], rtol=1e-12)
    assert block.fc1.weight.shape == (2, 32)                      # C -> C/r
    assert sum(p.numel() for p in block.parameters()) == 2 * 32 * 2 + 32 + 2


def test_se_block_gradient():
    block = M.SEBlock(8, reduction=4).double()
    report = sn.gradcheck(lambda x: block(x), [sn.tensor(_x(2, 8, 3, 3).data,
                                                         requires_grad=True)])
    assert report.passed, report


def test_se_block_reduction_must_divide():
    with pytest.raises(ValueError, match="48 channels do not divide by the reduction 10"):
        M.SEBlock(48, reduction=10)


# -- Inception ----------------------------------------------------------------------------------
def test_inception_block_concatenates_four_branches():
    block = InceptionBlock(192, 64, 96, 128, 16, 32, 32)           # inception3a
    y = block(_x(1, 192, 7, 7, dtype=np.float32))
    assert y.shape == (1, 64 + 128 + 32 + 32, 7, 7)
    assert block.branch3[1].conv.weight.shape == (32, 16, 5, 5)    # the paper's 5x5
    # the block's 1x1 branch is the first 64 output channels
    block.eval()
    x = _x(1, 192, 7, 7, dtype=np.float32)
    np.testing.assert_allclose(block(x).data[:, :64], block.branch1(x).data, rtol=1e-6)


def test_googlenet_large_kernel_option_counts():
    # torchvision's 3x3 in the third branch against the paper's 5x5: (25 - 9) * c5r * c5 more
    # weights per block, summed over the nine blocks of the paper's table
    c5 = [(16, 32), (32, 96), (16, 48), (24, 64), (24, 64), (32, 64), (32, 128), (32, 128),
          (48, 128)]
    small = M.googlenet(init_weights=False)
    large = M.googlenet(init_weights=False, large_kernel=5)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(large) - count(small) == 16 * sum(r * c for r, c in c5)


# -- ResNet blocks ------------------------------------------------------------------------------
def test_zero_init_residual_makes_every_block_the_identity():
    for build in (M.resnet18, M.resnet50):
        model = build(num_classes=10, zero_init_residual=True).eval()
        x = sn.tensor(np.abs(np.random.default_rng(2).standard_normal((1, 64, 8, 8)))
                      .astype(np.float32))
        # layer1 of resnet50 projects 64 -> 256 channels, so check its second block
        layer = model.layer1 if build is M.resnet18 else model.layer1[1:]
        if build is M.resnet50:
            x = sn.tensor(np.abs(np.random.default_rng(2).standard_normal((1, 256, 8, 8)))
                          .astype(np.float32))
        np.testing.assert_array_equal(layer(x).data, x.data)


def test_projection_shortcut_only_where_the_shape_changes():
    r18, r50 = M.resnet18(), M.resnet50()
    with_projection = lambda m: {n for n, mod in m.named_modules()  # noqa: E731
                                 if n.endswith("downsample")}
    assert with_projection(r18) == {"layer2.0.downsample", "layer3.0.downsample",
                                    "layer4.0.downsample"}
    # 64 -> 256 channels already in layer1
    assert with_projection(r50) == {f"layer{i}.0.downsample" for i in range(1, 5)}
    assert r50.layer2[0].conv2.stride == (2, 2) and r50.layer2[0].conv1.stride == (1, 1)


def test_basic_block_residual_by_hand():
    block = M.BasicBlock(4, 4).double().eval()
    x = _x(2, 4, 5, 5)
    f = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x))))).data
    np.testing.assert_allclose(block(x).data, np.maximum(f + x.data, 0), rtol=1e-12)


def test_resnext_groups_and_width():
    m = M.resnext50_32x4d()
    conv2 = m.layer1[0].conv2
    assert conv2.groups == 32 and conv2.in_channels == conv2.out_channels == 128
    assert m.layer4[0].conv2.in_channels == 1024


def test_basic_block_rejects_groups():
    with pytest.raises(ValueError, match="groups=1 and base_width=64"):
        M.BasicBlock(64, 64, groups=32, base_width=4)


# -- DenseNet blocks ----------------------------------------------------------------------------
def test_dense_block_grows_by_growth_rate_and_keeps_its_input():
    block = M.DenseBlock(num_layers=3, in_channels=5, bn_size=2, growth_rate=4).double().eval()
    x = _x(2, 5, 6, 6)
    y = block(x)
    assert y.shape == (2, 5 + 3 * 4, 6, 6)
    np.testing.assert_array_equal(y.data[:, :5], x.data)
    # layer 2 reads the input and layer 1's output
    assert block["denselayer2"].conv1.in_channels == 5 + 4
    assert block["denselayer3"].norm1.num_features == 5 + 2 * 4


def test_transition_halves_channels_and_map():
    t = M.Transition(64, 32)
    assert t(_x(1, 64, 8, 8, dtype=np.float32)).shape == (1, 32, 4, 4)
    assert [n for n, _ in t.named_children()] == ["norm", "relu", "conv", "pool"]


# -- MobileNet blocks ---------------------------------------------------------------------------
def test_depthwise_separable_weights_against_a_standard_conv():
    block = M.DepthwiseSeparableConv(512, 512)
    dw, pw = block.depthwise[0], block.pointwise[0]
    assert dw.groups == 512 and dw.weight.shape == (512, 1, 3, 3)
    assert dw.weight.numel() + pw.weight.numel() == 4_608 + 262_144
    standard = 3 * 3 * 512 * 512
    assert standard == 2_359_296
    assert round(standard / (dw.weight.numel() + pw.weight.numel()), 1) == 8.8


def test_depthwise_separable_is_depthwise_then_pointwise():
    block = M.DepthwiseSeparableConv(3, 5, stride=2).double().eval()
    x = _x(1, 3, 9, 9)
    y = block(x)
    assert y.shape == (1, 5, 5, 5)
    # the depthwise conv filters each channel alone: channel 1 of its output does not change
    # when the other input channels do
    x2 = x.data.copy()
    x2[:, [0, 2]] = 7.0
    a = block.depthwise[0](x).data[:, 1]
    b = block.depthwise[0](sn.tensor(x2)).data[:, 1]
    np.testing.assert_array_equal(a, b)


def test_inverted_residual_uses_the_shortcut_only_when_shapes_match():
    keep = M.InvertedResidual(16, 16, stride=1, expand_ratio=6).double().eval()
    down = M.InvertedResidual(16, 24, stride=2, expand_ratio=6)
    assert keep.use_res_connect and not down.use_res_connect
    assert keep.conv[0][0].out_channels == 96                     # expanded 6x
    # with the projection's BN silenced, the block is exactly its shortcut
    last_bn = keep.conv[-1]
    last_bn.weight.data[...] = 0
    last_bn.bias.data[...] = 0
    x = _x(2, 16, 4, 4)
    np.testing.assert_array_equal(keep(x).data, x.data)
    assert down(_x(2, 16, 8, 8, dtype=np.float32)).shape == (2, 24, 4, 4)


def test_relu6_caps_at_six_and_its_gradient():
    x = sn.tensor(np.array([-1.0, 0.0, 3.0, 6.0, 6.5]), requires_grad=True)
    y = nn.ReLU6()(x)
    assert y.data.tolist() == [0.0, 0.0, 3.0, 6.0, 6.0]
    y.sum().backward()
    # torch's ReLU6 (hardtanh(0, 6)) passes the gradient only strictly inside (0, 6)
    assert x.grad.data.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    m = sn.models.mobilenet_v2(num_classes=2)
    assert isinstance(m.features[0][2], nn.ReLU6)


# -- SqueezeNet and ShuffleNet blocks -----------------------------------------------------------
def test_fire_concatenates_expand_branches():
    fire = M.Fire(96, 16, 64, 64).double()
    x = _x(1, 96, 6, 6)
    y = fire(x)
    assert y.shape == (1, 128, 6, 6)
    s = fire.squeeze_activation(fire.squeeze(x))
    np.testing.assert_allclose(y.data[:, 64:], np.maximum(fire.expand3x3(s).data, 0),
                               rtol=1e-12)


def test_shuffle_unit_passes_half_the_channels_through():
    unit = M.ShuffleV2Block(8, 8, stride=1).double().eval()
    x = _x(1, 8, 4, 4)
    y = unit(x).data
    # the untouched half lands on the even channels after the shuffle
    np.testing.assert_array_equal(y[:, 0::2], x.data[:, :4])
    down = M.ShuffleV2Block(8, 16, stride=2)
    assert down(_x(1, 8, 4, 4, dtype=np.float32)).shape == (1, 16, 2, 2)


def test_shuffle_unit_error_names_the_split():
    with pytest.raises(ValueError, match="in_channels must be 16, got 12"):
        M.ShuffleV2Block(12, 16, stride=1)


# -- errors of fixed-size models ----------------------------------------------------------------
def test_fixed_size_models_say_which_size_they_need():
    with pytest.raises(ValueError, match=r"expects \(N, 3, 227, 227\)"):
        M.alexnet_paper(num_classes=10)(_x(1, 3, 224, 224, dtype=np.float32))
    with pytest.raises(ValueError, match=r"expects \(N, 3, 224, 224\)"):
        M.zfnet(num_classes=10)(_x(1, 3, 240, 240, dtype=np.float32))
    with pytest.raises(ValueError, match=r"expects \(N, 3, 32, 32\) CIFAR-10"):
        M.convnetjs_cifar10()(_x(1, 3, 40, 40, dtype=np.float32))
    with pytest.raises(ValueError, match="version must be '1_0' or '1_1'"):
        M.SqueezeNet("1_2")


def test_num_classes_sets_the_last_layer():
    assert M.resnet18(num_classes=7).fc.out_features == 7
    assert M.squeezenet1_1(num_classes=7)(_x(1, 3, 32, 32, dtype=np.float32)).shape == (1, 7)
    assert M.densenet121(num_classes=7).classifier.out_features == 7


def test_float64_flows_through_a_model():
    model = M.mobilenet_v2(num_classes=4).double().eval()
    x = _x(1, 3, 32, 32)
    x.requires_grad_(True)
    y = model(x)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float64


def test_inception_block_alias_is_torchvisions_name():
    assert M.googlenet().inception3a.__class__ is InceptionBlock
    from scratchnet.models.googlenet import Inception
    assert Inception is InceptionBlock
    assert isinstance(M.googlenet().inception3a, nn.Module)


@pytest.mark.parametrize("name,smallest", [("alexnet", 63), ("googlenet", 31),
                                           ("densenet121", 29), ("squeezenet1_0", 29),
                                           ("squeezenet1_1", 25)])
def test_smallest_input_in_the_docstrings(name, smallest):
    model = getattr(M, name)(num_classes=3).eval()
    with sn.no_grad():
        assert model(_x(1, 3, smallest, smallest, dtype=np.float32)).shape == (1, 3)
        # one pixel less and some pooling window no longer fits: the layer says so
        with pytest.raises(ValueError, match="Pool2d.*the window spans"):
            model(_x(1, 3, smallest - 1, smallest - 1, dtype=np.float32))


def test_resnet_and_mobilenets_take_any_size():
    for build in (M.resnet18, M.mobilenet_v2, M.shufflenet_v2_x1_0):
        model = build(num_classes=3).eval()
        with sn.no_grad():
            assert model(_x(1, 3, 5, 9, dtype=np.float32)).shape == (1, 3)
