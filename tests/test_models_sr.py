"""Super-resolution models: the FSRCNN table's weight counts and MAC speed-ups, receptive
fields (by the calculator and by backprop), shapes for x2/x3/x4, VDSR's global residual."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.models import sr

TABLE = [  # FSRCNN (ECCV 2016) Table 1: parameters and speed-up at x3
    ("SRCNN-Ex", lambda: sr.srcnn(9, 5, 5), 57184, 1.0),
    ("Transition State 1", sr.fsrcnn_transition1, 58976, 8.7),
    ("Transition State 2", sr.fsrcnn_transition2, 17088, 30.1),
    ("FSRCNN (56,12,4)", sr.fsrcnn, 12464, 41.3),
]


@pytest.mark.parametrize("name,make,weights,speedup", TABLE, ids=[t[0] for t in TABLE])
def test_fsrcnn_table(name, make, weights, speedup):
    m = make()
    assert sr.table_weights(m) == weights
    macs = sr.macs_per_hr_pixel(m, scale=3)
    # on the LR image: weights per LR pixel = weights / 9 per HR pixel
    assert macs == pytest.approx(weights if name == "SRCNN-Ex" else weights / 9, rel=1e-12)
    assert round(57184 / macs, 1) == speedup


def test_srcnn_counts_by_hand():
    # 9-1-5: 81*64 + 1*64*32 + 25*32 = 5184 + 2048 + 800 = 8032 weights, + 64 + 32 + 1 biases
    m = sr.srcnn(9, 1, 5)
    assert sr.table_weights(m) == 8032
    assert sum(p.numel() for p in m.parameters()) == 8032 + 97


def test_vdsr_counts():
    # 9*64 + 18 * 9*64*64 + 9*64 = 664,704 weights and 19 * 64 + 1 biases
    m = sr.vdsr()
    assert sr.table_weights(m) == 664704
    assert sum(p.numel() for p in m.parameters()) == 664704 + 19 * 64 + 1


def test_receptive_fields():
    assert sn.receptive_field(sr.srcnn(9, 1, 5)).size == 13
    assert sn.receptive_field(sr.srcnn(9, 5, 5)).size == 17
    assert sn.receptive_field(sr.vdsr(20)).size == 41


@pytest.mark.parametrize("make,size", [(lambda: sr.srcnn(9, 1, 5), 13), (lambda: sr.vdsr(20), 41)])
def test_receptive_field_by_backprop(make, size):
    # the gradient of one output pixel reaches exactly the size x size block around it
    m = make().double()
    x = sn.tensor(np.random.default_rng(0).standard_normal((1, 1, 61, 61)), requires_grad=True)
    y = m(x)
    y[0, 0, 30, 30].backward()
    rows, cols = np.nonzero(x.grad.data[0, 0])
    assert rows.max() - rows.min() + 1 == size and cols.max() - cols.min() + 1 == size


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_shapes(scale):
    x = sn.zeros((2, 1, 7, 5))
    for make in (sr.fsrcnn, sr.fsrcnn_transition1, sr.fsrcnn_transition2):
        assert make(scale=scale)(x).shape == (2, 1, 7 * scale, 5 * scale)
    hr = sn.zeros((2, 1, 7 * scale, 5 * scale))
    assert sr.srcnn()(hr).shape == hr.shape
    assert sr.vdsr(depth=4)(hr).shape == hr.shape


def test_vdsr_starts_near_its_input():
    x = sn.tensor(np.random.default_rng(1).random((1, 1, 20, 20)).astype(np.float32))
    y = sr.vdsr()(x)
    assert np.abs(y.data - x.data).max() < 0.05


def test_fsrcnn_uses_prelu_and_deconv():
    m = sr.fsrcnn()
    kinds = [type(layer).__name__ for layer in m.modules()]
    assert kinds.count("PReLU") == 7 and kinds.count("ConvTranspose2d") == 1
    assert m.deconvolution.stride == (3, 3)


def test_bad_configurations_explain():
    with pytest.raises(ValueError, match="scale must be an int"):
        sr.fsrcnn(scale=10)
    with pytest.raises(ValueError, match="depth"):
        sr.vdsr(depth=1)
