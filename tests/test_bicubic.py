"""Bicubic interpolate: Keys' weights (a = -0.75) worked by hand, PyTorch's border rule,
what a cubic kernel reproduces, nn.Upsample, dtypes, and (with torch installed) randomized
comparisons with PyTorch forward and backward.

The op cases in tests/opcases/upsample.py add the gradient checks and stored references."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.kernels.upsample import cubic_table

# W(d) for a = -0.75, by hand from W(d) = 1.25|d|^3 - 2.25|d|^2 + 1 (|d| <= 1) and
# -0.75|d|^3 + 3.75|d|^2 - 6|d| + 3 (1 < |d| < 2):
W_025, W_075 = 0.87890625, 0.26171875          # 1 - 0.12109375, 1 - 0.73828125
W_125, W_175 = -0.10546875, -0.03515625


def test_x2_weights_by_hand():
    # align_corners=False, x2 on n=4: output 0 sits at src = (0 + 0.5)/2 - 0.5 = -0.25, so
    # i = -1, t = 0.75 and the taps -2, -1, 0, 1 clamp to 0, 0, 0, 1 (distances 1.75, 0.75,
    # 0.25, 1.25); output 1 sits at src = 0.25: taps -1, 0, 1, 2 -> 0, 0, 1, 2
    idx, w = cubic_table(4, 8, 2.0, False, np.float64)
    assert idx[0].tolist() == [0, 0, 0, 1] and idx[1].tolist() == [0, 0, 1, 2]
    assert w[0].tolist() == [W_175, W_075, W_025, W_125]
    assert w[1].tolist() == [W_125, W_025, W_075, W_175]
    assert idx[7].tolist() == [2, 3, 3, 3]


def test_impulse_at_the_border_overshoots():
    # a 1 x 4 row [1, 0, 0, 0]: output 0 = W(1.75) + W(0.75) + W(0.25) (the clamped taps
    # all read the 1) = 1.10546875 > 1, output 1 = W(1.25) + W(0.25) = 0.7734375
    x = sn.tensor(np.array([[[[1.0, 0.0, 0.0, 0.0]]]]))
    y = F.interpolate(x, size=(1, 8), mode="bicubic").data[0, 0, 0]
    assert y[0] == pytest.approx(1.10546875, abs=1e-15)
    assert y[1] == pytest.approx(0.7734375, abs=1e-15)
    assert y.max() > 1.0 and y.min() < 0.0          # ringing: bicubic is not a convex blend


def test_integer_source_positions_copy_the_input():
    # align_corners=True from n to 2n - 1: every other output sits on an input pixel, where
    # W(0) = 1 and W(1) = W(2) = 0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 5, 4))
    y = F.interpolate(sn.tensor(x), size=(9, 7), mode="bicubic", align_corners=True).data
    np.testing.assert_allclose(y[:, :, ::2, ::2], x, atol=1e-14)


def test_constant_and_ramp_are_reproduced():
    ones = F.interpolate(sn.ones((1, 1, 5, 6), dtype="float64"), scale_factor=3,
                         mode="bicubic")
    np.testing.assert_allclose(ones.data, 1.0, atol=1e-14)
    # Keys' kernel reproduces a ramp only for a = -0.5 (MATLAB's imresize); PyTorch's a = -0.75
    # bends it. Away from the clamped border, at t = 0.25 the four taps -1, 0, 1, 2 give
    # -W(1.25) + W(0.75) + 2 W(1.75) = 0.296875 instead of 0.25: +0.046875, and -0.046875 at
    # t = 0.75 (by symmetry)
    ramp = np.tile(np.arange(10.0), (1, 1, 3, 1))
    y = F.interpolate(sn.tensor(ramp), size=(3, 20), mode="bicubic").data[0, 0, 0]
    src = (np.arange(20) + 0.5) / 2 - 0.5
    inside = (np.floor(src) >= 1) & (np.floor(src) + 2 <= 9)
    bend = np.where(src - np.floor(src) == 0.25, 0.046875, -0.046875)
    np.testing.assert_allclose(y[inside], (src + bend)[inside], atol=1e-13)


def test_backward_is_the_transpose_of_forward():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 1, 3, 4))
    M = np.stack([F.interpolate(sn.tensor(e.reshape(x.shape)), size=(7, 5),
                                mode="bicubic").data.ravel() for e in np.eye(x.size)], 1)
    g = rng.standard_normal((1, 1, 7, 5))
    t = sn.tensor(x, requires_grad=True)
    F.interpolate(t, size=(7, 5), mode="bicubic").backward(sn.tensor(g))
    np.testing.assert_allclose(t.grad.data.ravel(), M.T @ g.ravel(), atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    x = sn.tensor(np.ones((1, 2, 3, 3), dtype), requires_grad=True)
    y = F.interpolate(x, scale_factor=2, mode="bicubic")
    y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype


def test_upsample_module_bicubic():
    m = nn.Upsample(scale_factor=3, mode="bicubic", align_corners=False)
    x = sn.tensor(np.random.default_rng(2).standard_normal((1, 1, 4, 4)))
    np.testing.assert_array_equal(m(x).data, F.interpolate(x, scale_factor=3,
                                                           mode="bicubic").data)
    assert "bicubic" in repr(m)


def test_bicubic_needs_a_4d_input():
    with pytest.raises(ValueError, match="4-D"):
        F.interpolate(sn.zeros((1, 1, 5)), size=7, mode="bicubic")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("seed", range(20))
def test_matches_pytorch_live(seed, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(100 + seed)
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 9)),
             int(rng.integers(1, 9)))
    kw = {"mode": "bicubic", "align_corners": bool(rng.random() < 0.5)}
    if rng.random() < 0.5:
        kw["size"] = tuple(int(rng.integers(1, 17)) for _ in range(2))
    else:
        kw["scale_factor"] = tuple(float(np.round(rng.uniform(0.6, 3.5), 1)) for _ in range(2))
        if any(int(n * f) < 1 for n, f in zip(shape[2:], kw["scale_factor"])):
            kw = {"mode": "bicubic", "size": shape[2:]}
    x = rng.standard_normal(shape).astype(dtype)
    ours_x = sn.tensor(x, requires_grad=True)
    ours = F.interpolate(ours_x, **kw)
    their_x = torch.from_numpy(x).requires_grad_()
    theirs = torch.nn.functional.interpolate(their_x, **kw)
    assert ours.shape == tuple(theirs.shape), kw
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **tol, err_msg=str(kw))
    g = rng.standard_normal(ours.shape).astype(dtype)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours_x.grad.data, their_x.grad.numpy(), **tol, err_msg=str(kw))
