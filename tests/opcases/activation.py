"""Cases for the learned activation: prelu (F.prelu and nn.PReLU).

The slope gets its own gradient, so the inputs mix signs; one slope shared by all channels and
one per channel are both covered, with the channel dimension at 1 for 2-, 3- and 4-D inputs;
a 1-D input has one channel, as in PyTorch. `neg` inputs put every element on the sloped side.
"""
import scratchnet.nn.functional as F
from scratchnet import nn

from . import Case, Inp
from .nn import _torch_with, _with


def _prelu(name, x_shape, w_shape, kind="normal"):
    return Case(name, "prelu", lambda x, w: F.prelu(x, w), [Inp(x_shape, kind), Inp(w_shape)],
                lambda t, x, w: t.nn.functional.prelu(x, w))


CASES = [
    _prelu("prelu_shared_4d", (2, 3, 4, 5), (1,)),
    _prelu("prelu_channels_4d", (2, 3, 4, 5), (3,)),
    _prelu("prelu_channels_2d", (5, 4), (4,)),
    _prelu("prelu_channels_3d", (2, 3, 6), (3,)),
    _prelu("prelu_1d", (6,), (1,)),
    _prelu("prelu_all_negative", (2, 2, 3, 3), (2,), kind="neg"),
    Case("prelu_layer", "prelu",
         lambda x, w: _with(nn.PReLU(3), weight=w)(x), [Inp((2, 3, 4, 4)), Inp((3,))],
         lambda t, x, w: _torch_with(t, t.nn.PReLU(3).double(), weight=w)(x)),
    # a diamond: x feeds both the prelu and the product
    Case("prelu_diamond", "prelu", lambda x, w: F.prelu(x, w) * x,
         [Inp((2, 3, 3)), Inp((1,))], lambda t, x, w: t.nn.functional.prelu(x, w) * x),
]
