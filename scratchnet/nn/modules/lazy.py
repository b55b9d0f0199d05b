"""Lazy layers: LazyLinear, LazyConv2d, LazyBatchNorm2d (torch.nn's names, used by d2l).

A lazy layer is built without its input size (in_features, in_channels, num_features); the
first forward reads it from the input, gives the weights their shapes and their usual
initialisation, and turns the layer into the plain one (a LazyLinear becomes a Linear, as in
torch). Until then its parameters are `UninitializedParameter`s, which refuse to be used.
Create the optimizer after one forward with a dummy batch, as torch asks: the parameter
objects stay the same, but an optimizer made earlier would see empty arrays.
A state dict can also initialise a lazy layer: load_state_dict takes the shapes from it.
"""
from __future__ import annotations

import numpy as np

from ... import dtypes
from ...autograd.tensor import Tensor
from ..parameter import Parameter
from .conv import Conv2d
from .linear import Linear
from .normalization import BatchNorm2d


class _Uninitialized:
    """Refuses shape questions until materialize() gives the tensor its shape."""

    __slots__ = ()
    _becomes = Tensor

    def _refuse(self, what):
        raise ValueError(
            f"{what} of an uninitialized parameter: a lazy layer (LazyLinear, LazyConv2d, "
            "LazyBatchNorm2d) learns its input size on its first forward. Call the model once "
            "with a dummy batch before using its parameters or creating an optimizer")

    @property
    def shape(self):
        self._refuse("the shape")

    def numel(self):
        self._refuse("numel()")

    def size(self, dim=None):
        self._refuse("size()")

    def materialize(self, shape, dtype=None):
        """Give the tensor `shape` (values uninitialised) and make it a plain one, in place:
        every reference to it stays valid."""
        dtype = dtypes.as_dtype(dtype) if dtype is not None else self.data.dtype
        self.data = np.empty(tuple(shape), dtype)
        self.__class__ = self._becomes

    def __repr__(self):
        return f"<{type(self).__name__}>"


class UninitializedParameter(_Uninitialized, Parameter):
    """A Parameter without a shape yet (torch.nn.parameter.UninitializedParameter)."""

    __slots__ = ()
    _becomes = Parameter

    def __init__(self, requires_grad: bool = True, dtype=None):
        dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        super().__init__(np.empty(0, dtype), requires_grad=requires_grad)


class UninitializedBuffer(_Uninitialized, Tensor):
    """A buffer without a shape yet (torch.nn.parameter.UninitializedBuffer)."""

    __slots__ = ()
    _becomes = Tensor

    def __init__(self, dtype=None):
        dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        super().__init__(np.empty(0, dtype))


def is_lazy(module) -> bool:
    """Whether any parameter or buffer of `module` itself still waits for its shape."""
    return any(isinstance(t, _Uninitialized)
               for t in (*module._parameters.values(), *module._buffers.values()))


class _LazyMixin:
    """The first forward calls initialize_parameters(input), then becomes `cls_to_become`."""

    cls_to_become = None

    def _input_size(self, input):
        raise NotImplementedError

    def initialize_parameters(self, input):
        raise NotImplementedError

    def forward(self, input):
        self.initialize_parameters(input)
        self.__class__ = self.cls_to_become
        return self.forward(input)

    def extra_repr(self):
        return "uninitialized: " + self._lazy_repr()


class LazyLinear(_LazyMixin, Linear):
    """A Linear whose in_features is the last dimension of its first input:
    (*, in_features) -> (*, out_features)."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(0, out_features, bias=False, dtype=dtype)
        self.weight = UninitializedParameter(dtype=self.weight.dtype)
        if bias:
            self.bias = UninitializedParameter(dtype=self.weight.data.dtype)

    def reset_parameters(self):
        if self.in_features and not is_lazy(self):
            super().reset_parameters()

    def initialize_parameters(self, input):
        if input.ndim == 0:
            raise ValueError("LazyLinear: a 0-D input has no feature dimension")
        self.in_features = int(input.shape[-1])
        if is_lazy(self):
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()

    def _lazy_repr(self):
        return f"out_features={self.out_features}, bias={self.bias is not None}"


class LazyConv2d(_LazyMixin, Conv2d):
    """A Conv2d whose in_channels is axis 1 of its first input (N, C, H, W) (axis 0 of an
    unbatched (C, H, W) one)."""

    cls_to_become = Conv2d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        # in_channels = groups builds a valid placeholder; the weight is replaced below
        super().__init__(groups, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, dtype=dtype)
        dt = self.weight.data.dtype
        self.in_channels = 0
        self.weight = UninitializedParameter(dtype=dt)
        if bias:
            self.bias = UninitializedParameter(dtype=dt)

    def reset_parameters(self):
        if not is_lazy(self):
            super().reset_parameters()

    def initialize_parameters(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"LazyConv2d expects a 4-D input (N, C, H, W) or an unbatched "
                             f"(C, H, W) one, got shape {tuple(input.shape)}")
        c = int(input.shape[1] if input.ndim == 4 else input.shape[0])
        if c % self.groups:
            raise ValueError(f"LazyConv2d: the input has {c} channels, not divisible by "
                             f"groups={self.groups}")
        self.in_channels = c
        if is_lazy(self):
            self.weight.materialize((self.out_channels, c // self.groups) + self.kernel_size)
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()

    def _lazy_repr(self):
        return f"{self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"


class LazyBatchNorm2d(_LazyMixin, BatchNorm2d):
    """A BatchNorm2d whose num_features is axis 1 of its first input (N, C, H, W)."""

    cls_to_become = BatchNorm2d

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        super().__init__(0, eps, momentum, affine, track_running_stats, dtype=dtype)
        dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        if affine:
            self.weight = UninitializedParameter(dtype=dt)
            self.bias = UninitializedParameter(dtype=dt)
        if track_running_stats:
            self.register_buffer("running_mean", UninitializedBuffer(dt))
            self.register_buffer("running_var", UninitializedBuffer(dt))

    def reset_parameters(self):
        if not is_lazy(self):
            super().reset_parameters()

    def initialize_parameters(self, input):
        if input.ndim != 4:
            raise ValueError(f"LazyBatchNorm2d expects a 4-D input (N, C, H, W), got shape "
                             f"{tuple(input.shape)}")
        self.num_features = int(input.shape[1])
        if is_lazy(self):
            c = (self.num_features,)
            for t in (self.weight, self.bias, self.running_mean, self.running_var):
                if isinstance(t, _Uninitialized):
                    t.materialize(c)
            self.reset_parameters()

    def _lazy_repr(self):
        return f"eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
