"""Cases for pooling and unpooling: max (values, indices and gradients), average, adaptive,
max unpooling, against PyTorch.

The traps are spelled out in the names: overlapping windows, non-square inputs and kernels,
strides that do not divide the input, padding on all-negative input (the padding must never
win), ceil_mode's last-window rule, dilation, ties on constant input (first index wins), NaN.
Cases with ties or NaN skip the gradient check: central differences at a tie measure a
one-sided derivative that no backward reproduces.
"""
import numpy as np

import scratchnet.nn.functional as F

from . import Case, Inp

N = Inp


def mp(name, shape, kind="normal", gradcheck=True, **kw):
    """A max_pool2d case returning values and indices."""
    return Case(name, "max_pool2d", lambda x: F.max_pool2d(x, return_indices=True, **kw),
                [N(shape, kind)],
                lambda t, x: t.nn.functional.max_pool2d(x, return_indices=True, **kw),
                gradcheck=gradcheck)


def ap(name, shape, kind="normal", **kw):
    return Case(name, "avg_pool2d", lambda x: F.avg_pool2d(x, **kw), [N(shape, kind)],
                lambda t, x: t.nn.functional.avg_pool2d(x, **kw))


def aap(name, shape, size):
    return Case(name, "adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, size),
                [N(shape)], lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, size))


def amp(name, shape, size, kind="normal", gradcheck=True):
    return Case(name, "adaptive_max_pool2d",
                lambda x: F.adaptive_max_pool2d(x, size, return_indices=True), [N(shape, kind)],
                lambda t, x: t.nn.functional.adaptive_max_pool2d(x, size, return_indices=True),
                gradcheck=gradcheck)


def _nan_input(rng):
    x = rng.standard_normal((1, 2, 5, 6))
    x[0, 0, 1, 2] = np.nan
    x[0, 1, 3, 3] = x[0, 1, 3, 4] = np.nan   # two NaN in one window: PyTorch keeps the last
    return [(x, True)]


def _window_indices(shape, in_hw, k, s, p):
    """For pooled (N, C, H, W) values, one random pixel per window as an index h*W_in + w.
    Rows are drawn from [i*s - p, i*s - p + min(k, s)) so that windows never share a pixel
    (repeated indices make unpooling order-dependent)."""
    def draw(rng):
        n, c, h, w = shape
        H, W = in_hw
        oh = np.arange(h)[:, None] * s - p + rng.integers(0, min(k, s), (n, c, h, w))
        ow = np.arange(w)[None, :] * s - p + rng.integers(0, min(k, s), (n, c, h, w))
        oh, ow = np.clip(oh, 0, H - 1), np.clip(ow, 0, W - 1)
        return [(rng.standard_normal(shape), True), ((oh * W + ow).astype(np.int64), False)]
    return draw


def _pool_unpool(k, s=None, p=0):
    def ours(x):
        y, i = F.max_pool2d(x, k, s, p, return_indices=True)
        return F.max_unpool2d(y, i, k, s, p, output_size=x.shape[-2:])

    def theirs(t, x):
        y, i = t.nn.functional.max_pool2d(x, k, s, p, return_indices=True)
        return t.nn.functional.max_unpool2d(y, i, k, s, p, output_size=x.shape[-2:])
    return ours, theirs


CASES = [
    # -- max_pool2d ------------------------------------------------------------------------------
    mp("max_pool2d_k2s2", (2, 3, 6, 6), kernel_size=2),
    mp("max_pool2d_k3s1_overlap", (1, 2, 6, 7), kernel_size=3, stride=1),
    mp("max_pool2d_k3s2_overlap_batch3", (3, 2, 8, 9), kernel_size=3, stride=2),
    mp("max_pool2d_nonsquare", (1, 2, 5, 9), kernel_size=(2, 3), stride=(1, 2)),
    mp("max_pool2d_stride_not_dividing", (2, 1, 7, 8), kernel_size=2, stride=3),
    mp("max_pool2d_pad_all_negative", (2, 2, 7, 6), "neg", kernel_size=3, stride=2, padding=1),
    mp("max_pool2d_pad_nonsquare_negative", (1, 3, 5, 4), "neg", kernel_size=(3, 2),
       stride=(2, 1), padding=(1, 1)),
    # (5 + 2 - 2)/2 rounds up to 3, so 4 windows, but the 4th would start at 3*2 - 1 = 5,
    # past the input: PyTorch drops it, leaving 3
    mp("max_pool2d_ceil_last_window_dropped", (1, 2, 5, 5), "neg", kernel_size=2, stride=2,
       padding=1, ceil_mode=True),
    mp("max_pool2d_ceil_partial_window", (2, 1, 6, 8), kernel_size=3, stride=2, ceil_mode=True),
    mp("max_pool2d_dilation2", (1, 2, 7, 8), kernel_size=3, stride=1, padding=1, dilation=2),
    mp("max_pool2d_dilation_nonsquare_ceil", (1, 2, 8, 9), kernel_size=(2, 3), stride=2,
       padding=1, dilation=(3, 2), ceil_mode=True),
    mp("max_pool2d_unbatched", (3, 4, 5), kernel_size=2),
    mp("max_pool2d_const_ties_overlap", (3, 2, 4, 5), "const:1.5", gradcheck=False,
       kernel_size=3, stride=1, padding=1),
    mp("max_pool2d_const_ties", (1, 1, 4, 4), "const:-2", gradcheck=False, kernel_size=2),
    Case("max_pool2d_nan_wins", "max_pool2d",
         lambda x: F.max_pool2d(x, 2, 1, return_indices=True), _nan_input,
         lambda t, x: t.nn.functional.max_pool2d(x, 2, 1, return_indices=True),
         gradcheck=False),
    Case("max_pool2d_no_indices", "max_pool2d", lambda x: F.max_pool2d(x, 3, 2, 1),
         [N((1, 2, 6, 6))], lambda t, x: t.nn.functional.max_pool2d(x, 3, 2, 1)),
    Case("max_pool1d", "max_pool2d",
         lambda x: F.max_pool1d(x, 3, 2, 1, return_indices=True), [N((2, 3, 9))],
         lambda t, x: t.nn.functional.max_pool1d(x, 3, 2, 1, return_indices=True)),
    Case("min_pool2d", "max_pool2d", lambda x: F.min_pool2d(x, 3, 2, 1), [N((2, 2, 7, 6))],
         lambda t, x: -t.nn.functional.max_pool2d(-x, 3, 2, 1)),
    # -- avg_pool2d ------------------------------------------------------------------------------
    ap("avg_pool2d_k2s2", (2, 3, 6, 6), kernel_size=2),
    ap("avg_pool2d_k3s1_overlap", (1, 2, 6, 7), kernel_size=3, stride=1),
    ap("avg_pool2d_k3s2_batch3_nondividing", (3, 2, 8, 9), kernel_size=3, stride=2),
    ap("avg_pool2d_nonsquare", (1, 2, 7, 5), kernel_size=(3, 2), stride=(2, 1)),
    ap("avg_pool2d_pad_include", (2, 2, 7, 6), kernel_size=3, stride=2, padding=1),
    ap("avg_pool2d_pad_exclude", (2, 2, 7, 6), kernel_size=3, stride=2, padding=1,
       count_include_pad=False),
    # the last window hangs past the padding: count_include_pad counts only up to the padding
    ap("avg_pool2d_ceil_include", (1, 2, 6, 5), kernel_size=3, stride=2, padding=1,
       ceil_mode=True),
    ap("avg_pool2d_ceil_exclude", (1, 2, 5, 6), kernel_size=(2, 3), stride=2, padding=1,
       ceil_mode=True, count_include_pad=False),
    ap("avg_pool2d_divisor_override", (1, 2, 6, 6), kernel_size=3, stride=2, padding=1,
       divisor_override=4),
    ap("avg_pool2d_const", (1, 1, 4, 3), "const:3", kernel_size=2, stride=1, padding=1,
       count_include_pad=False),
    ap("avg_pool2d_unbatched", (2, 4, 6), kernel_size=2),
    # -- adaptive --------------------------------------------------------------------------------
    aap("adaptive_avg_pool2d_7to3", (2, 3, 7, 7), 3),
    aap("adaptive_avg_pool2d_5to7_upsampling", (1, 2, 5, 5), 7),
    aap("adaptive_avg_pool2d_keep_height", (1, 2, 4, 7), (None, 3)),
    aap("adaptive_avg_pool2d_nonsquare", (3, 1, 7, 5), (3, 4)),
    aap("adaptive_avg_pool2d_global", (2, 4, 5, 6), 1),
    amp("adaptive_max_pool2d_7to3", (2, 3, 7, 7), 3),
    amp("adaptive_max_pool2d_5to7_upsampling", (1, 2, 5, 5), 7),
    amp("adaptive_max_pool2d_keep_width", (1, 3, 5, 4), (2, None)),
    amp("adaptive_max_pool2d_const_ties", (1, 2, 5, 7), (2, 3), "const:0.25", gradcheck=False),
    # -- max_unpool2d ----------------------------------------------------------------------------
    Case("max_unpool2d_k2s2", "max_unpool2d", lambda v, i: F.max_unpool2d(v, i, 2),
         _window_indices((2, 3, 3, 3), (6, 6), 2, 2, 0),
         lambda t, v, i: t.nn.functional.max_unpool2d(v, i, 2)),
    Case("max_unpool2d_output_size_odd", "max_unpool2d",
         lambda v, i: F.max_unpool2d(v, i, 2, output_size=(7, 7)),
         _window_indices((1, 2, 3, 3), (7, 7), 2, 2, 0),
         lambda t, v, i: t.nn.functional.max_unpool2d(v, i, 2, output_size=(7, 7))),
    Case("max_unpool2d_k3s2p1", "max_unpool2d", lambda v, i: F.max_unpool2d(v, i, 3, 2, 1),
         _window_indices((2, 1, 3, 4), (5, 7), 3, 2, 1),
         lambda t, v, i: t.nn.functional.max_unpool2d(v, i, 3, 2, 1)),
    Case("max_unpool2d_after_pool", "max_unpool2d", _pool_unpool(2)[0], [N((2, 2, 6, 7))],
         _pool_unpool(2)[1]),
    # overlapping windows may pick one pixel twice; unpooling writes the same value twice, and
    # the backward (PyTorch's too) counts the pixel once per window, which no finite
    # difference reproduces: reference only
    Case("max_unpool2d_after_overlapping_pool", "max_unpool2d", _pool_unpool(3, 2, 1)[0],
         [N((1, 2, 7, 7))], _pool_unpool(3, 2, 1)[1], gradcheck=False),
]
