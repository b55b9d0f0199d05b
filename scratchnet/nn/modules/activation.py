"""Activation layers: thin modules over the functional ops, so they can sit in a Sequential.
Every one maps (*) -> (*), the same shape."""
from __future__ import annotations

import warnings

import numpy as np

from ... import dtypes
from .. import functional as F
from ..parameter import Parameter
from .module import Module


class ReLU(Module):
    """max(0, x). `inplace` is accepted for PyTorch code; the result is always a new tensor."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU6(Module):
    """min(max(x, 0), 6): a ReLU capped at 6, which keeps activations in a range that
    low-precision arithmetic on phones represents well (MobileNet's activation).
    `inplace` is accepted for PyTorch code; the result is always a new tensor."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu6(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                          else "")


class PReLU(Module):
    """x for x > 0, a * x otherwise, with the slope a learned (He et al. 2015; FSRCNN's
    activation). num_parameters=1 shares one slope by every channel, or give C for one per
    channel (the channel dimension is 1). Parameter: weight (num_parameters,), all `init`.
    Shapes: (*) -> (*)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = int(num_parameters)
        self.init = float(init)
        dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        self.weight = Parameter(np.full((self.num_parameters,), self.init, dtype=dt))

    def reset_parameters(self):
        self.weight.data[...] = self.init

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Tanh(Module):
    """tanh(x), LeNet-5's activation."""

    def forward(self, input):
        return F.tanh(input)


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, input):
        return F.sigmoid(input)


def _legacy_softmax_dim(name, ndim):
    # PyTorch's rule when dim is not given: 0 for 0-, 1- and 3-D input, else 1
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """exp(x_i) / sum_j exp(x_j) along `dim` (the class axis, usually 1)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _legacy_softmax_dim("softmax", input.ndim)
        return F.softmax(input, dim=dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along `dim`, computed stably; pair it with NLLLoss."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _legacy_softmax_dim("log_softmax",
                                                                        input.ndim)
        return F.log_softmax(input, dim=dim)

    def extra_repr(self):
        return f"dim={self.dim}"
