"""Linear (fully connected) layer and Identity."""
from __future__ import annotations

import math

import numpy as np

from ... import dtypes
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


def _empty(shape, dtype):
    return np.empty(shape, dtypes.as_dtype(dtype) if dtype is not None
                    else dtypes.get_default_dtype())


class Identity(Module):
    """Returns its input unchanged: (*) -> (*). A placeholder, e.g. to cut the classifier off
    a pretrained network (model.fc = nn.Identity()). Ignores any constructor arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b.

    Shapes: input (*, in_features) -> output (*, out_features); `*` is any number of leading
    dimensions (usually just N).
    Parameters: weight (out_features, in_features), bias (out_features,), both drawn from
    U(-1/sqrt(in_features), 1/sqrt(in_features)) (PyTorch's default: kaiming_uniform_ with
    a = sqrt(5) for the weight).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        for what, n in (("in_features", self.in_features), ("out_features", self.out_features)):
            if n < 0:
                raise ValueError(f"Linear: {what} must be >= 0, got {n} (the weight would be "
                                 f"({out_features}, {in_features}))")
        self.weight = Parameter(_empty((self.out_features, self.in_features), dtype))
        if bias:
            self.bias = Parameter(_empty((self.out_features,), dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            got = input.shape[-1] if input.ndim else "no"
            raise ValueError(
                f"{self!r} expects inputs of shape (*, {self.in_features}) but got "
                f"{tuple(input.shape)}: in_features is {self.in_features}, the input has {got} "
                f"features in its last dimension. (After conv layers, check that Flatten "
                f"comes first and that in_features = channels * height * width of the last "
                f"feature map.)")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
