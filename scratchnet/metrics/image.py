"""Image quality metrics of the super-resolution papers: PSNR and SSIM.

    psnr(pred, target, data_range=1.0, shave=0, y_channel=True) -> float (dB)
    ssim(pred, target, data_range=1.0, shave=0, y_channel=True) -> float in [-1, 1]
    rgb_to_y(img) -> (..., H, W);  rgb_to_ycbcr / ycbcr_to_rgb: (3, H, W) <-> (3, H, W)

Images are (H, W) grey or (3, H, W) RGB, channels first as scratchnet's tensors, floating
point in [0, data_range] (an ndarray or a Tensor). SRCNN, FSRCNN and VDSR report both on the
luminance Y of YCbCr (ITU-R BT.601 as MATLAB's rgb2ycbcr: Y in [16, 235] on the 0..255 scale)
after shaving `scale` pixels off every border, where the upscaled image has no neighbours to
reconstruct from; with y_channel=True an RGB pair is compared on Y, so pass the scale as
`shave` to reproduce a paper's protocol.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import Tensor

# MATLAB rgb2ycbcr for [0, 1] inputs, scaled back to [0, 1]: Y = (16 + 65.481 R + 128.553 G
# + 24.966 B) / 255, Cb and Cr centred on 128/255
_YCBCR = np.array([[65.481, 128.553, 24.966],
                   [-37.797, -74.203, 112.0],
                   [112.0, -93.786, -18.214]]) / 255.0
_YCBCR_OFFSET = np.array([16.0, 128.0, 128.0]) / 255.0
_Y_WEIGHTS, _Y_OFFSET = _YCBCR[0], _YCBCR_OFFSET[0]


def _array(img, who):
    a = img.data if isinstance(img, Tensor) else np.asarray(img)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{who}: expected a numeric image, got {a.dtype}")
    return a.astype(np.float64)


def rgb_to_y(img, data_range=1.0):
    """Luminance of an RGB image: (3, H, W) (or (..., 3, H, W)) in [0, data_range] ->
    (H, W) (or (..., H, W)) in [16/255, 235/255] * data_range (BT.601, MATLAB's rgb2ycbcr)."""
    a = _array(img, "rgb_to_y")
    if a.ndim < 3 or a.shape[-3] != 3:
        raise ValueError(f"rgb_to_y: expected (3, H, W) RGB channels first, got shape "
                         f"{a.shape}")
    return np.tensordot(_Y_WEIGHTS, a, axes=([0], [a.ndim - 3])) + _Y_OFFSET * data_range


def rgb_to_ycbcr(img):
    """(3, H, W) RGB in [0, 1] -> (3, H, W) YCbCr in [0, 1] (BT.601 studio range, MATLAB's
    rgb2ycbcr: Y in [16, 235]/255, Cb and Cr in [16, 240]/255)."""
    a = _array(img, "rgb_to_ycbcr")
    if a.ndim != 3 or a.shape[0] != 3:
        raise ValueError(f"rgb_to_ycbcr: expected (3, H, W), got shape {a.shape}")
    return np.tensordot(_YCBCR, a, axes=([1], [0])) + _YCBCR_OFFSET[:, None, None]


def ycbcr_to_rgb(img):
    """The inverse of rgb_to_ycbcr: (3, H, W) YCbCr -> (3, H, W) RGB (not clipped)."""
    a = _array(img, "ycbcr_to_rgb")
    if a.ndim != 3 or a.shape[0] != 3:
        raise ValueError(f"ycbcr_to_rgb: expected (3, H, W), got shape {a.shape}")
    return np.tensordot(np.linalg.inv(_YCBCR), a - _YCBCR_OFFSET[:, None, None],
                        axes=([1], [0]))


def _prepare(pred, target, who, data_range, shave, y_channel):
    """Both images as float64 (H, W) (Y or grey) or (C, H, W), borders shaved."""
    p, t = _array(pred, who), _array(target, who)
    if p.shape != t.shape:
        raise ValueError(f"{who}: the images differ in shape: pred {p.shape}, target "
                         f"{t.shape}")
    if p.ndim not in (2, 3):
        raise ValueError(f"{who}: expected (H, W) or (C, H, W) images, got shape {p.shape}")
    if p.ndim == 3 and y_channel:
        if p.shape[0] == 3:
            p, t = rgb_to_y(p, data_range), rgb_to_y(t, data_range)
        elif p.shape[0] == 1:
            p, t = p[0], t[0]
    shave = int(shave)
    if shave < 0 or 2 * shave >= min(p.shape[-2:]):
        raise ValueError(f"{who}: shave={shave} leaves nothing of a "
                         f"{p.shape[-2]}x{p.shape[-1]} image (2 * {shave} >= "
                         f"{min(p.shape[-2:])})")
    if shave:
        p, t = p[..., shave:-shave, shave:-shave], t[..., shave:-shave, shave:-shave]
    return p, t


def psnr(pred, target, data_range=1.0, shave=0, y_channel=True):
    """Peak signal-to-noise ratio in dB: 10 log10(data_range^2 / MSE), the MSE over every
    remaining pixel (and channel, when y_channel=False). inf for identical images."""
    p, t = _prepare(pred, target, "psnr", data_range, shave, y_channel)
    mse = float(np.mean((p - t) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse)


def _gaussian_window(size=11, sigma=1.5):
    """The normalised 1-D Gaussian whose outer product is Wang et al.'s 11 x 11 window."""
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def _filter_valid(a, g):
    """Separable correlation of the last two axes with g x g, only where the window fits:
    (..., H, W) -> (..., H - k + 1, W - k + 1)."""
    k = g.size
    rows = np.lib.stride_tricks.sliding_window_view(a, k, axis=-2) @ g
    return np.lib.stride_tricks.sliding_window_view(rows, k, axis=-1) @ g


def ssim(pred, target, data_range=1.0, shave=0, y_channel=True, win_size=11, sigma=1.5):
    """Structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004), mean of the SSIM map.

    At every position where the 11 x 11 Gaussian window (sigma 1.5) fits, with the window's
    weighted means mu, variances sigma^2 and covariance sigma_xy:

        SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 +
               sigma_y^2 + C2)),   C1 = (0.01 L)^2, C2 = (0.03 L)^2, L = data_range.

    Multi-channel images (y_channel=False, or not RGB) average the channels' means.
    """
    p, t = _prepare(pred, target, "ssim", data_range, shave, y_channel)
    if min(p.shape[-2:]) < win_size:
        raise ValueError(f"ssim: the {p.shape[-2]}x{p.shape[-1]} image (after shave={shave}) "
                         f"is smaller than the {win_size}x{win_size} window")
    g = _gaussian_window(win_size, sigma)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = _filter_valid(p, g), _filter_valid(t, g)
    vx = _filter_valid(p * p, g) - mx * mx
    vy = _filter_valid(t * t, g) - my * my
    cxy = _filter_valid(p * t, g) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())
