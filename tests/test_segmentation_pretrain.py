"""The segmentation recipes' backbone pretraining: digit crops, the digit classifier's
training, the transfer of its conv stack into FCN and DeconvNet, the cached backbone file,
and the enlarged-input wrapper."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import data, nn
from scratchnet.models import segmentation as S
from scratchnet.segmentation import (DigitClassifier, ScaledInput, SegmentationError,
                                     backbone_of, build_model, digit_crops,
                                     load_or_pretrain_backbone, pretrain_backbone,
                                     transfer_backbone)


def test_digit_crops_hold_the_scene_digits_in_order():
    x, y = digit_crops("train", 3, size=32, seed=0)
    assert x.shape == (3, 3, 32, 32) and x.dtype == np.float32
    ds = data.DigitScenes("train", num_samples=3, num_digits=1, seed=0)
    # label d + 1 in the dataset is digit d
    assert y.tolist() == [int(ds[i][1]["labels"][0]) - 1 for i in range(3)]
    # the grey scene on three equal channels
    np.testing.assert_array_equal(x[:, 0], x[:, 1])
    np.testing.assert_array_equal(x[:, 0], x[:, 2])


def test_digit_crop_is_the_box_region_when_no_resizing_is_needed():
    # asked for the crop's own side, the crop is the scene's square around the box, unresampled
    ds = data.DigitScenes("train", num_samples=3, num_digits=1, seed=0)
    for i in range(3):
        image, t = ds[i]
        x1, y1, x2, y2 = (float(v) for v in t["boxes"][0])
        side = int(min(max(round(max(x2 - x1, y2 - y1) * 4 / 3), 8), 64))
        left = int(min(max(round((x1 + x2) / 2 - side / 2), 0), 64 - side))
        top = int(min(max(round((y1 + y2) / 2 - side / 2), 0), 64 - side))
        crops, _ = digit_crops("train", i + 1, size=side, seed=0)
        np.testing.assert_allclose(crops[i, 0], image[0, top:top + side, left:left + side],
                                   atol=1e-6)
        # the digit's pixels are inside the crop
        mask = t["masks"][0]
        assert mask[top:top + side, left:left + side].sum() == mask.sum()


def test_pretraining_lowers_the_loss_and_is_deterministic():
    kwargs = dict(width=1 / 32, scenes=64, epochs=3, batch_size=16, lr=3e-3, seed=1,
                  progress=False, log=None, val_scenes=16)
    model, info = pretrain_backbone(**kwargs)
    assert len(info["train_loss"]) == 3
    assert info["train_loss"][-1] < 0.9 * info["train_loss"][0], info["train_loss"]
    again, _ = pretrain_backbone(**kwargs)
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)


def _randomised(classifier, seed=0):
    """Give every conv and batch-norm tensor of the classifier distinct random values (fresh
    layers share constants such as BN weight 1), so a copy is told from a fresh layer."""
    rng = np.random.default_rng(seed)
    state = {k: rng.standard_normal(np.shape(v)).astype(np.float32)
             if np.asarray(v).dtype.kind == "f" else v
             for k, v in classifier.state_dict().items()}
    for k in state:
        if "running_var" in k:
            state[k] = np.abs(state[k]) + 0.5
    classifier.load_state_dict(state)
    return classifier


@pytest.mark.parametrize("make", [
    lambda: ScaledInput(S.fcn8s(11, width=1 / 16, batch_norm=True), 2),
    lambda: S.fcn32s(11, width=1 / 16, batch_norm=True),
    lambda: S.deconvnet(11, width=1 / 16, fc_kernel=2)])
def test_transfer_copies_every_backbone_layer(make):
    classifier = _randomised(DigitClassifier(width=1 / 16))
    model = make()
    assert transfer_backbone(classifier.features, model) == 26    # 13 convs, 13 batch norms
    src = [m for m in classifier.features.modules() if isinstance(m, (nn.Conv2d,
                                                                      nn.BatchNorm2d))]
    dst = [m for m in backbone_of(model).modules() if isinstance(m, (nn.Conv2d,
                                                                     nn.BatchNorm2d))]
    for a, b in zip(src, dst):
        for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
            np.testing.assert_array_equal(np.asarray(va), np.asarray(vb), err_msg=k)


def test_transfer_refuses_a_backbone_without_batch_norm():
    with pytest.raises(SegmentationError, match="VGG-16 with batch norm"):
        transfer_backbone(DigitClassifier(width=1 / 16).features, S.fcn8s(11, width=1 / 16))


def test_the_cached_backbone_is_read_back_not_retrained(tmp_path):
    path = str(tmp_path / "backbone.npz")
    lines = []
    first, info = load_or_pretrain_backbone(path, width=1 / 32, seed=0, scenes=16,
                                            progress=False, log=lines.append)
    assert any(line.startswith("pretraining") for line in lines)
    lines.clear()
    second, info2 = load_or_pretrain_backbone(path, width=1 / 32, seed=0, scenes=16,
                                              progress=False, log=lines.append)
    assert lines and lines[0].startswith(f"backbone from {path}")
    assert info2["val_accuracy"] == info["val_accuracy"]
    for (k, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=k)


def test_scaled_input_is_a_one_eight_three_quarters_smoothing_for_a_pointwise_net():
    # bilinear 2x (half-pixel centres) puts output samples at i - 1/4 and i + 1/4; averaging
    # each 2x2 block gives, per axis, 3/4 x[i] + 1/8 (x[i-1] + x[i+1]), edges replicated
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    net = nn.Conv2d(3, 4, 1)
    y = ScaledInput(net, 2)(sn.tensor(x)).detach().numpy()
    assert y.shape == (2, 4, 5, 6)

    def smooth(a, axis):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (1, 1)
        p = np.pad(a, pad, mode="edge")
        n = a.shape[axis]
        take = lambda s: np.take(p, range(s, s + n), axis=axis)  # noqa: E731
        return 0.75 * take(1) + 0.125 * (take(0) + take(2))

    expected = net(sn.tensor(smooth(smooth(x, 2), 3))).detach().numpy()
    np.testing.assert_allclose(y, expected, atol=1e-5)


def test_build_model_wraps_only_when_enlarging():
    assert isinstance(build_model("fcn8s", 11, width=1 / 16, scale=2), ScaledInput)
    assert isinstance(build_model("fcn8s", 11, width=1 / 16, scale=1), S.FCN)
