"""nn.PReLU / F.prelu: PyTorch's defaults, the slope's role worked by hand, errors that teach,
and a live comparison with torch.nn.PReLU on random shapes."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn


def test_defaults_follow_pytorch():
    m = nn.PReLU()
    assert m.weight.shape == (1,) and m.weight.data[0] == 0.25
    assert m.weight.dtype == np.float32
    assert nn.PReLU(4, init=0.1).weight.data.tolist() == pytest.approx([0.1] * 4)
    assert repr(nn.PReLU(4)) == "PReLU(num_parameters=4)"
    assert list(dict(nn.PReLU(3).named_parameters())) == ["weight"]


def test_values_and_gradients_by_hand():
    # channel 0 slope 0.5, channel 1 slope -1: x = [[2, -4], [-1, 3]] as (N=1, C=2, 2)
    x = sn.tensor(np.array([[[2.0, -4.0], [-1.0, 3.0]]]), requires_grad=True)
    w = sn.tensor(np.array([0.5, -1.0]), requires_grad=True)
    y = F.prelu(x, w)
    assert y.data.tolist() == [[[2.0, -2.0], [1.0, 3.0]]]
    y.sum().backward()
    # dy/dx: 1 where x > 0, the channel's slope elsewhere; dy/dw[c]: sum of x <= 0 in channel c
    assert x.grad.data.tolist() == [[[1.0, 0.5], [-1.0, 1.0]]]
    assert w.grad.data.tolist() == [-4.0, -1.0]


def test_zero_takes_the_slope_side():
    x = sn.tensor(np.zeros((1, 1, 2)), requires_grad=True)
    w = sn.tensor(np.array([0.3]), requires_grad=True)
    F.prelu(x, w).sum().backward()
    assert x.grad.data.tolist() == [[[0.3, 0.3]]]


def test_float32_stays_float32():
    x = sn.tensor(np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32),
                  requires_grad=True)
    m = nn.PReLU(3)
    y = m(x)
    y.sum().backward()
    assert y.dtype == np.float32 and m.weight.grad.dtype == np.float32
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("x_shape,w_shape,words", [
    ((2, 3, 4, 4), (4,), ["4 slopes", "3 channel", "1 shared slope or 3"]),
    ((2, 3), (1, 3), ["1-D", "(1, 3)"]),
    ((5,), (5,), ["5 slopes", "1 channel"]),
])
def test_bad_weight_is_explained(x_shape, w_shape, words):
    with pytest.raises(ValueError) as e:
        F.prelu(sn.zeros(x_shape), sn.zeros(w_shape))
    for w in words:
        assert w in str(e.value)


def test_dtype_mismatch_is_explained():
    with pytest.raises(TypeError, match="float64 but the weight is float32"):
        F.prelu(sn.zeros((2, 3), dtype="float64"), sn.zeros((3,), dtype="float32"))


def test_matches_torch_live():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for shape, n in [((3, 4, 5, 6), 4), ((3, 4, 5, 6), 1), ((7, 2), 2), ((2, 5, 9), 5)]:
        x = rng.standard_normal(shape)
        w = rng.uniform(-0.5, 0.5, n)
        ours = nn.PReLU(n).double()
        ours.weight.data[...] = w
        theirs = torch.nn.PReLU(n).double()
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(w))
        xo, xt = sn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        np.testing.assert_allclose(yo.data, yt.detach().numpy(), rtol=1e-12)
        cot = rng.standard_normal(shape)
        (yo * sn.tensor(cot)).sum().backward()
        (yt * torch.from_numpy(cot)).sum().backward()
        np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-10)
