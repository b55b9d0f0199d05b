"""Spatial pyramid pooling: bin edges worked by hand, the two modes, the RoI form, bad input,
and a live comparison with torch's adaptive_max_pool2d on random sizes."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.ops.spp import pyramid_bins


def test_bins_on_the_papers_13x13_map():
    # adaptive: [floor(i*13/n), ceil((i+1)*13/n)); paper: win ceil(13/n), stride floor(13/n)
    assert pyramid_bins(13, 6) == [(0, 3), (2, 5), (4, 7), (6, 9), (8, 11), (10, 13)]
    assert pyramid_bins(13, 3) == [(0, 5), (4, 9), (8, 13)]
    assert pyramid_bins(13, 2) == [(0, 7), (6, 13)]
    assert pyramid_bins(13, 1) == [(0, 13)]
    for n in (6, 3, 2, 1):
        assert pyramid_bins(13, n, "paper") == pyramid_bins(13, n)


def test_bins_where_the_modes_differ():
    # 10 pixels into 4: the paper's win 3 stride 2 never reaches pixel 9
    assert pyramid_bins(10, 4, "paper") == [(0, 3), (2, 5), (4, 7), (6, 9)]
    assert pyramid_bins(10, 4) == [(0, 3), (2, 5), (5, 8), (7, 10)]
    # 2 pixels into 3 bins: adaptive bins share pixels
    assert pyramid_bins(2, 3) == [(0, 1), (0, 2), (1, 2)]
    with pytest.raises(ValueError, match=r"\(5 - 2\)/1 \+ 1 = 4 bins, not 3"):
        pyramid_bins(5, 3, "paper")
    with pytest.raises(ValueError, match=r"floor\(2/3\) = 0"):
        pyramid_bins(2, 3, "paper")


def test_values_on_a_4x4_map_by_hand():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    x[0, 0, 0, 0] = 99.0
    out = F.spatial_pyramid_pool(sn.tensor(x), (2, 1)).numpy()
    # level 2: quadrants of [[99,1,2,3],[4,5,6,7],[8,...]]; level 1: the global max
    np.testing.assert_array_equal(out, [[99, 7, 13, 15, 99]])
    assert out.dtype == np.float64


def test_output_length_is_fixed_for_any_size_and_dtype_kept():
    for h, w in ((13, 13), (7, 20), (3, 2)):
        x = sn.tensor(np.random.default_rng(0).standard_normal((2, 5, h, w)).astype(np.float32))
        out = F.spatial_pyramid_pool(x)
        assert out.shape == (2, 5 * 50) and out.dtype == np.float32
    assert sn.nn.SpatialPyramidPooling().output_features(256) == 12800


def test_gradient_goes_to_each_levels_argmax():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 0] = 5.0                     # wins its quadrant and the global bin
    t = sn.tensor(x, requires_grad=True)
    F.spatial_pyramid_pool(t, (2, 1)).sum().backward()
    g = t.grad.numpy()[0, 0]
    assert g[0, 0] == 2.0                   # one from level 2, one from level 1
    # the other quadrants are constant 0: the first pixel of each gets the gradient
    assert g[0, 2] == 1.0 and g[2, 0] == 1.0 and g[2, 2] == 1.0
    assert g.sum() == 5.0


def test_roi_form_is_the_pyramid_of_the_window():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 8, 9))
    box = np.array([[0, 2, 1, 6, 7]], dtype=np.float64)   # columns 2..6, rows 1..7
    ours = F.roi_spatial_pyramid_pool(sn.tensor(x), box, (3, 2, 1)).numpy()
    window = sn.tensor(x[:, :, 1:8, 2:7].copy())
    np.testing.assert_array_equal(ours, F.spatial_pyramid_pool(window, (3, 2, 1)).numpy())
    layer = sn.nn.SpatialPyramidPooling((3, 2, 1))
    np.testing.assert_array_equal(layer(sn.tensor(x), box).numpy(), ours)


@pytest.mark.parametrize("call, err, match", [
    (lambda x: F.spatial_pyramid_pool(x, ()), ValueError, "at least one level"),
    (lambda x: F.spatial_pyramid_pool(x, (4, 0)), ValueError, "int >= 1"),
    (lambda x: F.spatial_pyramid_pool(x, "6321"), ValueError, "int >= 1"),
    (lambda x: F.spatial_pyramid_pool(x, 4.5), TypeError, "sequence of bin counts"),
    (lambda x: F.spatial_pyramid_pool(x, mode="ceil"), ValueError, "mode must be one of"),
    (lambda x: F.spatial_pyramid_pool(x[0]), ValueError, "4-D input"),
    (lambda x: F.spatial_pyramid_pool(x, (4,), mode="paper"), ValueError,
     r"7-pixel side into 4 bins: .* \(7 - 2\)/1 \+ 1 = 6 bins, not 4"),
    (lambda x: F.spatial_pyramid_pool(x, (6,), mode="paper"), ValueError,
     r"stride = floor\(5/6\) = 0"),
    (lambda x: sn.nn.SpatialPyramidPooling(mode="paper")(x, [np.zeros((1, 4))]), ValueError,
     "whole maps only"),
])
def test_bad_input_names_the_problem(call, err, match):
    x = sn.tensor(np.zeros((1, 2, 5, 7), dtype=np.float32))
    with pytest.raises(err, match=match):
        call(x)


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match="float32 or float64"):
        F.spatial_pyramid_pool(sn.tensor(np.zeros((1, 1, 4, 4), dtype=np.int64)))


def test_live_against_torch_adaptive_max_pool():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, c = rng.integers(1, 3), rng.integers(1, 4)
        h, w = rng.integers(1, 16, 2)
        levels = tuple(int(v) for v in rng.choice([1, 2, 3, 4, 6], rng.integers(1, 4),
                                                  replace=False))
        x = rng.standard_normal((n, c, h, w))
        tx = torch.tensor(x, requires_grad=True)
        ref = torch.cat([torch.nn.functional.adaptive_max_pool2d(tx, k).flatten(1)
                         for k in levels], 1)
        cot = rng.standard_normal(tuple(ref.shape))
        (ref * torch.tensor(cot)).sum().backward()
        ox = sn.tensor(x, requires_grad=True)
        out = F.spatial_pyramid_pool(ox, levels)
        (out * sn.tensor(cot)).sum().backward()
        np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
        np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=0, atol=1e-12)
