"""FCN, DeconvNet and U-Net: geometry, parameter counts against the papers, the FC-to-conv
conversion, the bilinear initialisation, and twins built in torch.nn."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.models import segmentation as S
from scratchnet.nn import init


def conv_params(c_in, c_out, k, bias=True):
    return c_in * c_out * k * k + (c_out if bias else 0)


VGG16_CONV = (conv_params(3, 64, 3) + conv_params(64, 64, 3) + conv_params(64, 128, 3)
              + conv_params(128, 128, 3) + conv_params(128, 256, 3)
              + 2 * conv_params(256, 256, 3) + conv_params(256, 512, 3)
              + 5 * conv_params(512, 512, 3))


def learned(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_crop_offsets_are_the_reference_implementations():
    # the crop layers of the FCN reference nets (voc-fcn32s/16s/8s): upscore 19;
    # score_pool4 5, upscore16 27; score_pool3 9, upscore8 31
    assert S.crop_offsets(100) == {"32s": 19, "16s_pool4": 5, "16s": 27, "8s_pool4": 5,
                                   "8s_pool3": 9, "8s": 31}


def test_coordinate_map_by_hand():
    # a 3x3 conv padded by 100: output 0 is centred on input -99
    assert S.coordinate_map([("conv", 3, 1, 100)]) == (1.0, -99.0)
    # then a 2x2/2 pool: output i covers inputs 2i, 2i+1 -> centre 2i + 0.5 - 99
    assert S.coordinate_map([("conv", 3, 1, 100), ("conv", 2, 2, 0)]) == (2.0, -98.5)
    # a 4x4 stride-2 transposed conv undoes the pool's scale: output o at (o - 1.5)/2
    assert S.coordinate_map([("conv", 2, 2, 0), ("up", 4, 2, 0)]) == (1.0, -1.0)


@pytest.mark.heavy
def test_fcn_parameter_counts_match_the_paper():
    fc6, fc7 = conv_params(512, 4096, 7), conv_params(4096, 4096, 1)
    score_fr = conv_params(4096, 21, 1)
    fcn32 = VGG16_CONV + fc6 + fc7 + score_fr
    assert fcn32 == 134_346_581
    m32 = S.fcn32s()
    assert learned(m32) == fcn32
    # the paper's Table 1: FCN-VGG16, 134M parameters (the fixed 32x upsampling not counted)
    assert round(learned(m32) / 1e6) == 134
    assert sum(p.numel() for p in m32.parameters()) == fcn32 + 21 * 21 * 64 * 64
    up2, pool4, pool3 = 21 * 21 * 4 * 4, conv_params(512, 21, 1), conv_params(256, 21, 1)
    assert learned(S.fcn16s()) == fcn32 + up2 + pool4
    assert learned(S.fcn8s()) == fcn32 + 2 * up2 + pool4 + pool3


@pytest.mark.heavy
def test_deconvnet_parameter_count_matches_the_paper():
    encoder = VGG16_CONV + conv_params(512, 4096, 7) + conv_params(4096, 4096, 1)
    decoder = (conv_params(4096, 512, 7) + 3 * conv_params(512, 512, 3)
               + 2 * conv_params(512, 512, 3) + conv_params(512, 256, 3)
               + 2 * conv_params(256, 256, 3) + conv_params(256, 128, 3)
               + conv_params(128, 128, 3) + conv_params(128, 64, 3)
               + 2 * conv_params(64, 64, 3) + conv_params(64, 21, 1))
    bn_channels = (2 * 64 + 2 * 128 + 3 * 256 + 6 * 512 + 2 * 4096 + 512
                   + 5 * 512 + 3 * 256 + 2 * 128 + 3 * 64)
    model = S.deconvnet()
    assert sum(p.numel() for p in model.parameters()) == encoder + decoder + 2 * bn_channels
    # Noh et al.: "252M" parameters
    assert round((encoder + decoder) / 1e6) == 252


def test_unet_paper_geometry_and_parameters():
    model = S.unet(width=1 / 16)
    assert model.output_size(572) == 388                  # the paper's Figure 1
    small = S.unet(width=1 / 16)
    x = sn.randn(1, 1, 188, 188)
    with sn.no_grad():
        assert small(x).shape == (1, 2, small.output_size(188), small.output_size(188))
    down = (conv_params(1, 64, 3) + conv_params(64, 64, 3) + conv_params(64, 128, 3)
            + conv_params(128, 128, 3) + conv_params(128, 256, 3) + conv_params(256, 256, 3)
            + conv_params(256, 512, 3) + conv_params(512, 512, 3) + conv_params(512, 1024, 3)
            + conv_params(1024, 1024, 3))
    up = sum(conv_params(2 * c, c, 2) + conv_params(2 * c, c, 3) + conv_params(c, c, 3)
             for c in (512, 256, 128, 64))
    assert sum(p.numel() for p in S.unet().parameters()) == down + up + conv_params(64, 2, 1)


def test_unet_padded_keeps_size_and_rejects_bad_sizes():
    model = S.unet(in_channels=3, num_classes=4, width=1 / 16, padding=1)
    with sn.no_grad():
        assert model(sn.randn(2, 3, 48, 32)).shape == (2, 4, 48, 32)
    with pytest.raises(ValueError, match="multiples of 2\\^4 = 16"):
        model(sn.randn(1, 3, 40, 32))


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
@pytest.mark.parametrize("size", [(64, 64), (75, 101)])
def test_fcn_output_matches_input_size(variant, size):
    model = S.FCN(variant, num_classes=5, width=1 / 16).eval()
    with sn.no_grad():
        out = model(sn.randn(1, 3, *size))
    assert out.shape == (1, 5, *size)
    # score_fr and the skips start at zero, so an untrained FCN predicts all-zero scores
    assert np.all(out.numpy() == 0)


def test_fcn_batch_norm_backbone_keeps_the_geometry():
    # VGG-16-BN: a BatchNorm2d after each of the 13 convolutions, nothing else changes; at
    # width 1/16 the convolutions have 4,4, 8,8, 16,16,16, 32 x6 channels = 264, and each batch
    # norm learns a scale and a shift per channel: 2 * 264 = 528 more parameters
    plain = S.fcn8s(num_classes=11, width=1 / 16)
    bn = S.fcn8s(num_classes=11, width=1 / 16, batch_norm=True)
    kinds = [type(m).__name__ for m in bn.features]
    assert kinds.count("BatchNorm2d") == 13
    for i, kind in enumerate(kinds):
        if kind == "BatchNorm2d":
            assert kinds[i - 1] == "Conv2d" and kinds[i + 1] == "ReLU"
            assert bn.features[i].num_features == bn.features[i - 1].out_channels
    count = lambda m: sum(p.numel() for p in m.parameters())     # noqa: E731
    assert count(bn) - count(plain) == 528
    assert bn.features[0].padding == (100, 100) and bn.offsets == plain.offsets
    with sn.no_grad():
        assert bn.eval()(sn.randn(1, 3, 75, 101)).shape == (1, 11, 75, 101)


def test_bilinear_transposed_conv_is_bilinear_interpolation_inside():
    x = sn.tensor(np.random.default_rng(0).standard_normal((1, 3, 6, 7)).astype(np.float32))
    w = sn.zeros(3, 3, 4, 4)
    init.bilinear_(w)
    # hand-worked taps of the 4-tap filter: 1 - |t - 1.5| / 2
    np.testing.assert_allclose(w.numpy()[0, 0, 0], [0.0625, 0.1875, 0.1875, 0.0625])
    assert np.all(w.numpy()[0, 1] == 0)
    up = F.conv_transpose2d(x, w, stride=2, padding=1).numpy()
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False).numpy()
    assert up.shape == ref.shape == (1, 3, 12, 14)
    np.testing.assert_allclose(up[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], rtol=1e-6, atol=1e-6)
    assert not np.allclose(up[..., 0, :], ref[..., 0, :])     # zeros outside vs edge repeat


def test_bilinear_init_rejects_non_square_channel_maps():
    with pytest.raises(ValueError, match="expected a \\(C, C, k, k\\)"):
        init.bilinear_(sn.zeros(3, 4, 4, 4))


def test_convert_fc_to_conv_same_logits_and_a_score_map():
    rng = np.random.default_rng(1)
    fc = nn.Linear(4 * 3 * 3, 5)
    conv = S.convert_fc_to_conv(fc, 4, 3)
    assert conv.weight.shape == (5, 4, 3, 3)
    x = sn.tensor(rng.standard_normal((2, 4, 3, 3)).astype(np.float32))
    with sn.no_grad():
        np.testing.assert_allclose(conv(x).numpy()[:, :, 0, 0], fc(x.flatten(1)).numpy(),
                                   rtol=1e-5, atol=1e-6)
        big = sn.tensor(rng.standard_normal((1, 4, 5, 6)).astype(np.float32))
        scores = conv(big).numpy()
        assert scores.shape == (1, 5, 3, 4)
        for i in range(3):
            for j in range(4):
                window = big[:, :, i:i + 3, j:j + 3].flatten(1)
                np.testing.assert_allclose(scores[:, :, i, j], fc(window).numpy(), rtol=1e-5,
                                           atol=1e-5)
    with pytest.raises(ValueError, match="4\\*2\\*2 = 16, not 36"):
        S.convert_fc_to_conv(fc, 4, 2)


@pytest.mark.heavy
def test_fully_convolutional_vgg_keeps_the_classifier_logits():
    vgg = sn.models.vgg11(num_classes=10, init_weights=False).eval()
    fcn = S.FullyConvolutionalVGG(vgg).eval()
    x = sn.randn(1, 3, 224, 224)
    with sn.no_grad():
        np.testing.assert_allclose(fcn(x).numpy()[:, :, 0, 0], vgg(x).numpy(), rtol=1e-4,
                                   atol=1e-5)
        assert fcn(sn.randn(1, 3, 288, 320)).shape == (1, 10, 3, 4)


def test_deconvnet_shapes_and_switches():
    model = S.deconvnet(num_classes=3, width=1 / 16, fc_kernel=2).eval()
    record = model.record_activations(sn.randn(1, 3, 64, 64))
    sizes = {name: v.shape[-1] for name, v in record.items()}
    assert sizes["pool5"] == 2 and sizes["fc7"] == 1 and sizes["deconv_fc6"] == 2
    assert [sizes[f"unpool{i}"] for i in (5, 4, 3, 2, 1)] == [4, 8, 16, 32, 64]
    # an unpooled map is zero except where pooling took its maxima
    un = record["unpool1"].numpy()
    assert (un != 0).sum() <= un.size // 4
    with pytest.raises(ValueError, match="multiples of 32"):
        model(sn.randn(1, 3, 48, 64))


def copy_into(ours, twin):
    state = {k: v.detach().numpy() for k, v in twin.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    missing = set(ours.state_dict()) - set(state)
    for key in list(missing):
        if key.endswith("num_batches_tracked"):
            missing.discard(key)
    assert not missing, missing
    ours.load_state_dict({**{k: v for k, v in ours.state_dict().items()
                             if k.endswith("num_batches_tracked")}, **state})


def compare(t, ours, twin, shape, seed):
    """Logits and input gradients in float64: in float32 the two libraries' sums differ in
    the last bits, and where two pooled values nearly tie that flips a max pooling's choice
    and sends a whole region's gradient elsewhere (seen at pool4 of FCN-8s)."""
    ours.double()
    twin.double()
    x = np.random.default_rng(seed).standard_normal(shape)
    xs = sn.tensor(x, requires_grad=True)
    xt = t.tensor(x, requires_grad=True)
    out, ref = ours(xs), twin(xt)
    g = np.random.default_rng(seed + 1).standard_normal(ref.shape)
    out.backward(sn.tensor(g))
    ref.backward(t.from_numpy(g))
    scale = float(np.abs(ref.detach().numpy()).max())
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-4,
                               atol=1e-4 * max(scale, 1e-3))
    gs = float(np.abs(xt.grad.numpy()).max())
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-4,
                               atol=1e-4 * max(gs, 1e-6))


def test_fcn8s_twin_matches_torch():
    t = pytest.importorskip("torch")
    t.manual_seed(0)
    from tests.torch_twins import fcn8s
    twin = fcn8s(0.25, 11)
    with t.no_grad():
        for m in twin.modules():             # non-zero skips so every path is exercised
            if isinstance(m, t.nn.Conv2d):
                m.weight.normal_(0, 0.05)
            if isinstance(m, t.nn.ConvTranspose2d):
                m.weight.normal_(0, 0.1)
    ours = S.fcn8s(num_classes=11, width=0.25)
    copy_into(ours, twin)
    compare(t, ours.eval(), twin.eval(), (2, 3, 64, 64), 0)


def test_deconvnet_twin_matches_torch():
    t = pytest.importorskip("torch")
    t.manual_seed(0)
    from tests.torch_twins import deconvnet
    twin = deconvnet(0.25, 11, fc_kernel=2)
    from tests.torch_twins import randomize_batchnorm
    randomize_batchnorm(twin, t.Generator().manual_seed(1))
    ours = S.deconvnet(num_classes=11, width=0.25, fc_kernel=2)
    copy_into(ours, twin)
    compare(t, ours.eval(), twin.eval(), (2, 3, 64, 64), 2)
