"""PSNR and SSIM: values worked by hand from the definitions, the papers' Y channel and border
shave, and scikit-image's peak_signal_noise_ratio / structural_similarity with the settings
of Wang et al. 2004 (Gaussian window, sigma 1.5, population covariance)."""
import math

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.metrics import psnr, rgb_to_y, ssim


def test_psnr_by_hand():
    # MSE 0.01 on a [0, 1] scale: 10 log10(1 / 0.01) = 20 dB; on 0..255 with error 1: 48.13 dB
    assert psnr(np.full((4, 5), 0.1), np.zeros((4, 5))) == pytest.approx(20.0, abs=1e-12)
    assert psnr(np.full((3, 3), 101.0), np.full((3, 3), 100.0), data_range=255) == \
        pytest.approx(10 * math.log10(255 ** 2), abs=1e-12)
    assert psnr(np.ones((3, 3)), np.ones((3, 3))) == math.inf


def test_psnr_shave_ignores_the_border():
    a = np.zeros((8, 8))
    b = a.copy()
    b[0, :] = b[:, -1] = 1.0               # errors only in the outer ring
    b[4, 4] = 0.5                           # and one inside: MSE = 0.25 / 36 after shave=1
    assert psnr(b, a, shave=1) == pytest.approx(10 * math.log10(36 / 0.25), abs=1e-12)
    assert psnr(b, a, shave=0) < psnr(b, a, shave=1)


def test_y_channel_by_hand():
    # BT.601: white -> 235/255, black -> 16/255, pure red -> (16 + 65.481)/255
    img = np.zeros((3, 1, 3))
    img[:, 0, 0] = 1.0
    img[0, 0, 2] = 1.0
    y = rgb_to_y(img)
    np.testing.assert_allclose(y[0], [235 / 255, 16 / 255, (16 + 65.481) / 255], rtol=1e-12)
    # an error only in blue moves Y by 24.966/255 of it
    a, b = np.zeros((3, 4, 4)), np.zeros((3, 4, 4))
    b[2] = 0.5
    err = 0.5 * 24.966 / 255
    assert psnr(b, a) == pytest.approx(-20 * math.log10(err), abs=1e-10)
    assert psnr(b, a, y_channel=False) == pytest.approx(10 * math.log10(1 / (0.25 / 3)),
                                                       abs=1e-10)


def test_ssim_by_hand():
    assert ssim(np.full((11, 11), 0.3), np.full((11, 11), 0.3)) == pytest.approx(1.0)
    # constant images 0.5 and 0.25: no variance, so SSIM = (2 * 0.125 + C1) / (0.3125 + C1)
    c1 = 1e-4
    want = (0.25 + c1) / (0.3125 + c1)
    assert ssim(np.full((12, 13), 0.5), np.full((12, 13), 0.25)) == pytest.approx(want,
                                                                                  rel=1e-12)
    # x and -x around the same mean: sigma_xy = -sigma^2, so the structure term is
    # (C2 - 2 s^2) / (2 s^2 + C2) with s^2 the window's weighted variance
    rng = np.random.default_rng(0)
    n = rng.choice([-0.1, 0.1], size=(11, 11))
    s = ssim(0.5 + n, 0.5 - n)
    g = np.exp(-(np.arange(11) - 5) ** 2 / (2 * 1.5 ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    mean = (w * n).sum()
    var = (w * n * n).sum() - mean ** 2
    mx, my = 0.5 + mean, 0.5 - mean
    c2 = 9e-4
    hand = (2 * mx * my + c1) * (c2 - 2 * var) / ((mx ** 2 + my ** 2 + c1) * (2 * var + c2))
    assert s == pytest.approx(hand, rel=1e-10)


def test_accepts_tensors_and_uint8_ranges():
    a = np.random.default_rng(1).random((3, 16, 16))
    assert psnr(sn.tensor(a * 0.9), sn.tensor(a)) == psnr(a * 0.9, a)
    a8 = (a * 255).round()
    assert psnr(a8 + 1, a8, data_range=255, y_channel=False) == \
        pytest.approx(20 * math.log10(255), abs=1e-9)


@pytest.mark.parametrize("call,words", [
    (lambda: psnr(np.zeros((4, 4)), np.zeros((4, 5))), "differ in shape"),
    (lambda: psnr(np.zeros((4, 4)), np.zeros((4, 4)), shave=2), r"2 \* 2 >= 4"),
    (lambda: ssim(np.zeros((8, 8)), np.zeros((8, 8))), "smaller than the 11x11"),
    (lambda: rgb_to_y(np.zeros((4, 4, 3))), "channels first"),
])
def test_errors_explain(call, words):
    with pytest.raises(ValueError, match=words):
        call()


@pytest.mark.parametrize("seed", range(4))
def test_matches_skimage(seed):
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(seed)
    target = rng.random((3, 37, 45))
    pred = np.clip(target + 0.08 * rng.standard_normal(target.shape), 0, 1)
    shave = seed
    crop = (slice(shave, -shave or None),) * 2
    yp, yt = rgb_to_y(pred)[crop], rgb_to_y(target)[crop]
    assert psnr(pred, target, shave=shave) == pytest.approx(
        metrics.peak_signal_noise_ratio(yt, yp, data_range=1.0), rel=1e-12)
    assert ssim(pred, target, shave=shave) == pytest.approx(
        metrics.structural_similarity(yt, yp, data_range=1.0, gaussian_weights=True,
                                      sigma=1.5, use_sample_covariance=False), rel=1e-10)
    # all channels: skimage averages the per-channel SSIM, as ours does
    assert ssim(pred, target, y_channel=False) == pytest.approx(
        metrics.structural_similarity(target, pred, data_range=1.0, gaussian_weights=True,
                                      sigma=1.5, use_sample_covariance=False, channel_axis=0),
        rel=1e-10)
    assert psnr(pred, target, y_channel=False) == pytest.approx(
        metrics.peak_signal_noise_ratio(target, pred, data_range=1.0), rel=1e-12)


def test_ycbcr_by_hand_and_round_trip():
    from scratchnet.metrics import rgb_to_ycbcr, ycbcr_to_rgb
    img = np.zeros((3, 1, 2))
    img[:, 0, 1] = 1.0                      # black, white
    ycc = rgb_to_ycbcr(img) * 255
    np.testing.assert_allclose(ycc[:, 0, 0], [16, 128, 128], atol=1e-12)
    # white: Cb = 128 + (-37.797 - 74.203 + 112) = 128, Cr = 128 + (112 - 93.786 - 18.214)
    np.testing.assert_allclose(ycc[:, 0, 1], [235, 128, 128], atol=1e-12)
    rgb = np.random.default_rng(3).random((3, 5, 4))
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-12)
