"""shapes.pair / shapes.ntuple: the one int-or-tuple normaliser behind every layer, op and
transform that takes a size, a stride or a padding."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn, shapes
from scratchnet.data import transforms as T
from scratchnet.nn import functional as F


def test_pair_and_ntuple():
    assert shapes.pair(3) == (3, 3)
    assert shapes.pair((2, 5)) == (2, 5)
    assert shapes.pair(np.int64(4)) == (4, 4)
    assert shapes.ntuple(2, 1) == (2,)
    assert shapes.ntuple([1, 2, 3], 3) == (1, 2, 3)
    with pytest.raises(ValueError, match=r"conv: stride must be an int or a pair, got \(1, 2, 3\)"):
        shapes.pair((1, 2, 3), "stride", "conv")
    with pytest.raises(ValueError, match="must be an int or a 1-tuple"):
        shapes.ntuple((1, 2), 1)
    # torch refuses non-integer sizes, even 2.0, and bools
    for bad in (2.5, 2.0, True, (2, 1.5), "2"):
        with pytest.raises(TypeError, match="kernel_size must be integers"):
            shapes.pair(bad, "kernel_size")
    with pytest.raises(ValueError, match=r"padding must be >= 0, got \(1, -1\)"):
        shapes.pair((1, -1), "padding", minimum=0)


@pytest.mark.parametrize("call", [
    lambda: F.conv2d(sn.ones(1, 1, 5, 5), sn.ones(1, 1, 3, 3), stride=2.0),
    lambda: F.conv1d(sn.ones(1, 1, 5), sn.ones(1, 1, 3), padding=1.5),
    lambda: nn.Conv2d(1, 1, 3.0),
    lambda: F.unfold(sn.ones(1, 1, 5, 5), 2.0),
    lambda: F.fold(sn.ones(1, 4, 4), (3.0, 3), 2),
    lambda: nn.MaxUnpool2d(2.0),
    lambda: F.max_pool1d(sn.ones(1, 1, 6), 2.0),
    lambda: sn.ops.roi_pool(sn.ones(1, 1, 4, 4), sn.tensor([[0, 0, 0, 3, 3.0]]), 2.0),
    lambda: T.CenterCrop(2.0),
], ids=["conv2d", "conv1d", "Conv2d", "unfold", "fold", "MaxUnpool2d", "max_pool1d",
        "roi_pool", "CenterCrop"])
def test_every_entry_point_uses_the_one_normaliser(call):
    with pytest.raises(TypeError, match="must be integers"):
        call()


def test_the_old_private_normalisers_are_gone():
    import scratchnet.data.transforms as t
    import scratchnet.nn.modules.conv as mc
    import scratchnet.nn.modules.pooling as mp
    import scratchnet.ops.conv as oc

    for mod, name in [(oc, "_ints"), (oc, "_one"), (mc, "_ntuple"), (mp, "_pair"),
                      (t, "_size_pair")]:
        assert not hasattr(mod, name), f"{mod.__name__}.{name} is back"


def test_conv_pool_and_unfold_errors_name_a_kernel_the_same_way():
    x = sn.zeros(1, 1, 4, 2)
    msgs = []
    for call in (lambda: F.conv2d(x, sn.zeros(1, 1, 2, 3)),
                 lambda: F.max_pool2d(x, (2, 3), 1),
                 lambda: F.avg_pool2d(x, (2, 3), 1),
                 lambda: F.unfold(x, (2, 3))):
        with pytest.raises(ValueError) as e:
            call()
        msgs.append(str(e.value))
    assert msgs[0].startswith("conv2d(1->1, k=2x3) width:")
    assert msgs[1].startswith("max_pool2d(k=2x3, s=1) width:")
    assert msgs[2].startswith("avg_pool2d(k=2x3, s=1) width:")
    assert msgs[3].startswith("unfold(k=2x3) width:")
    assert shapes.describe_window("conv_transpose2d", (3, 3), (2, 2), (1, 1), (1, 1),
                                  channels=(8, 4), groups=2, output_padding=(1, 0)) == \
        "conv_transpose2d(8->4, k=3, s=2, p=1, output_padding=1x0, groups=2)"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [(7, 5), (3, 11), (16, 2)])
def test_transforms_resize_shares_interpolates_bilinear_rule(dtype, size):
    """data.transforms.resize and F.interpolate(mode='bilinear') use one half-pixel table
    (kernels/upsample.linear_table): same numbers, up to the order of the sums."""
    img = np.random.default_rng(0).standard_normal((2, 6, 9)).astype(dtype)
    ours = T.resize(img, size)
    ref = F.interpolate(sn.tensor(img[None]), size=size, mode="bilinear",
                        align_corners=False).data[0]
    assert ours.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol)
    assert not hasattr(T, "_bilinear_axis")
