"""imresize: MATLAB's bicubic resize, worked by hand from its documented kernel (Keys,
a = -0.5), antialiasing (kernel stretched by 1/scale), pixel mapping and symmetric border;
its properties; and how it differs from interpolate(mode='bicubic')."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.data.transforms import imresize


def test_halving_by_hand_with_antialias():
    # 1 x 4 -> 1 x 2: output 1 sits at u = 1/0.5 + (1 - 2)/2 = 1.5 (1-based); the kernel is
    # h(x) = 0.5 cubic(0.5 x), 8 wide, over taps -3..6 whose weights are 0, -0.01171875,
    # -0.03515625, 0.11328125, 0.43359375, 0.43359375, 0.11328125, -0.03515625, -0.01171875, 0
    # (already summing to 1). Taps -2, -1, 0 mirror to 3, 2, 1 and 5, 6 to 4, 3, so
    # out = 0.546875 x1 + 0.3984375 x2 + 0.1015625 x3 - 0.046875 x4
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    y = imresize(x, size=(1, 2))
    assert y[0, 0] == pytest.approx(0.546875 + 2 * 0.3984375 + 3 * 0.1015625 - 4 * 0.046875,
                                    abs=1e-15)
    assert y[0, 0] == pytest.approx(1.4609375, abs=1e-15)
    assert y[0, 1] == pytest.approx(5 - 1.4609375, abs=1e-15)       # mirror symmetry


def test_doubling_by_hand():
    # 1 x 4 -> x2: output 1 at u = 0.5 + 0.25 = 0.75, taps -2..3 at distances 2.75, 1.75,
    # 0.75, -0.25, -1.25, -2.25 with weights 0, -0.0234375, 0.2265625, 0.8671875, -0.0703125,
    # 0; taps -1 and 0 mirror to 2 and 1: -0.0234375*2 + (0.2265625 + 0.8671875)*1
    # - 0.0703125*2 = 0.90625
    y = imresize(np.array([[1.0, 2.0, 3.0, 4.0]]), scale=2)
    assert y.shape == (2, 8)
    assert y[0, 0] == pytest.approx(0.90625, abs=1e-15)
    # a = -0.5 reproduces a ramp wherever no tap mirrors: outputs 4 and 5 sit at u = 2.25 and
    # 2.75 (1-based), i.e. on the values 2.25 and 2.75 of x = [1, 2, 3, 4]
    np.testing.assert_allclose(y[0, 3:5], [2.25, 2.75], atol=1e-14)


def test_output_size_rounds_up_like_matlab():
    assert imresize(np.zeros((10, 7)), scale=1 / 3).shape == (4, 3)     # ceil(3.33), ceil(2.33)
    assert imresize(np.zeros((2, 5, 6)), scale=3).shape == (2, 15, 18)
    assert imresize(np.zeros((5, 6)), size=(2, 9)).shape == (2, 9)


def test_constant_is_kept_and_dtype_too():
    for scale in (0.25, 1 / 3, 0.5, 2, 3):
        y = imresize(np.full((3, 12, 9), 0.7, np.float32), scale=scale)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, 0.7, rtol=1e-6)


def test_antialias_removes_aliasing():
    # a checkerboard at the pixel frequency shrunk to 1/3: without antialiasing every output
    # sits exactly on an input pixel (u = 3o - 1, where W(0) = 1 and W(1) = W(2) = 0), so
    # it picks pixels 1, 4, 7, ... (0-based) and the board survives at full contrast, a
    # pattern that is not in the scene at that resolution; the antialiased kernel (12 pixels
    # wide) averages it to about 0.5
    board = (np.indices((18, 18)).sum(0) % 2).astype(np.float64)
    raw = imresize(board, scale=1 / 3, antialias=False)
    np.testing.assert_allclose(raw, board[1::3, 1::3], atol=1e-12)
    smooth = imresize(board, scale=1 / 3)
    assert np.abs(smooth[1:-1, 1:-1] - 0.5).max() < 0.05


def test_differs_from_interpolate_bicubic():
    # upscaling a ramp: MATLAB's a = -0.5 keeps it straight inside, PyTorch's a = -0.75 bends
    # it by 0.046875 at quarter positions; and at the border mirror vs clamp differ
    ramp = np.tile(np.arange(8.0), (3, 1))
    ours = imresize(ramp, size=(3, 16))[0]
    torchlike = F.interpolate(sn.tensor(ramp[None, None]), size=(3, 16),
                              mode="bicubic").data[0, 0, 0]
    src = (np.arange(16) + 0.5) / 2 - 0.5
    np.testing.assert_allclose(ours[3:-3], src[3:-3], atol=1e-13)
    assert np.abs(torchlike[3:-3] - src[3:-3]).max() == pytest.approx(0.046875, abs=1e-12)
    # first output, at u = 0.75 on x = 0..7: MATLAB mirrors tap -1 to pixel 2 (value 1):
    # -0.0234375 * 1 - 0.0703125 * 1 = -0.09375; PyTorch clamps taps -2..1 to 0, 0, 0, 1:
    # W(1.25) * 1 = -0.10546875
    assert ours[0] == pytest.approx(-0.09375) and torchlike[0] == pytest.approx(-0.10546875)


def test_tensor_in_tensor_out_and_errors():
    y = imresize(sn.tensor(np.ones((1, 6, 6), np.float32)), scale=0.5)
    assert isinstance(y, sn.Tensor) and y.shape == (1, 3, 3)
    with pytest.raises(ValueError, match="either scale or size"):
        imresize(np.ones((4, 4)))
    with pytest.raises(ValueError, match="positive"):
        imresize(np.ones((4, 4)), scale=-2)
    with pytest.raises(TypeError, match="floating"):
        imresize(np.ones((4, 4), np.uint8), scale=2)
