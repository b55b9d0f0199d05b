"""Convolution layers: Conv1d, Conv2d, ConvTranspose2d. The arithmetic lives in the
functional ops (F.conv1d, F.conv2d, F.conv_transpose2d); a layer holds the weight and bias,
checks that the input fits, and names itself when it does not."""
from __future__ import annotations

import math

import numpy as np

from ... import dtypes
from ...shapes import ntuple
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Weight (out_channels, in_channels / groups, *kernel_size) for a convolution,
    (in_channels, out_channels / groups, *kernel_size) for a transposed one (PyTorch's
    layouts); bias (out_channels,). Both start from PyTorch's default: kaiming_uniform_(a =
    sqrt(5)) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias."""

    _dims = 2
    _functional = ""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, dtype=None):
        super().__init__()
        n = self._dims
        name = type(self).__name__
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        for what, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value < 0:
                raise ValueError(f"{name}: {what} must be >= 0, got {value}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by "
                             f"groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by "
                             f"groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = ntuple(kernel_size, n, "kernel_size", name, minimum=0)
        self.stride = ntuple(stride, n, "stride", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or "
                                 f"'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride})")
            self.padding = padding
        else:
            self.padding = ntuple(padding, n, "padding", name)
        self.dilation = ntuple(dilation, n, "dilation", name)
        self.transposed = transposed
        self.output_padding = ntuple(output_padding, n, "output_padding", name)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        if transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _check_input(self, input):
        n = self._dims
        layout = "(N, C, L)" if n == 1 else "(N, C, H, W)"
        if input.ndim != n + 2:
            raise ValueError(f"{self!r} expects a {n + 2}-D input {layout}, got shape "
                             f"{tuple(input.shape)}")
        if input.shape[1] != self.in_channels:
            raise ValueError(f"{self!r} expects {self.in_channels} input channels, got input "
                             f"of shape {tuple(input.shape)} with {input.shape[1]} channels "
                             f"on axis 1")

    def _call(self, fn, *args, **kwargs):
        """Run a functional op, prefixing its shape errors with this layer's repr."""
        try:
            return fn(*args, **kwargs)
        except ValueError as e:
            raise ValueError(f"{self!r}: {e}") from e

    def _explicit_padding(self):
        """Per-dimension (before, after) padding for the 'same'/'valid' strings and for
        non-zero padding modes: 'same' puts the odd pixel after, as PyTorch does."""
        if self.padding == "valid":
            return [(0, 0)] * self._dims
        if self.padding == "same":
            pads = []
            for d, k in zip(self.dilation, self.kernel_size):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return pads
        return [(p, p) for p in self.padding]

    def _conv_forward(self, input, weight, bias):
        self._check_input(input)
        fn = getattr(F, self._functional)
        pads = self._explicit_padding()
        symmetric = all(a == b for a, b in pads)
        if self.padding_mode == "zeros" and symmetric:
            padding = tuple(a for a, _ in pads)
            return self._call(fn, input, weight, bias, self.stride, padding, self.dilation,
                              self.groups)
        flat = []
        for before, after in reversed(pads):      # F.pad lists the last dimension first
            flat += [before, after]
        mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
        padded = self._call(F.pad, input, tuple(flat), mode=mode)
        return self._call(fn, padded, weight, bias, self.stride, (0,) * self._dims,
                          self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation): (N, C_in, L) -> (N, C_out, L'), with
    L' = floor((L + 2p - d(k-1) - 1) / s) + 1. Weight (C_out, C_in/groups, k)."""

    _dims = 1
    _functional = "conv1d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, dtype)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, no kernel flip): (N, C_in, H, W) ->
    (N, C_out, H', W') with H' = floor((H + 2p - d(k-1) - 1) / s) + 1 (the slides'
    (W - K + 2P)/S + 1 for d = 1), likewise W'. Weight (C_out, C_in/groups, kH, kW): each of
    the C_out filters spans all C_in/groups input channels of its group."""

    _dims = 2
    _functional = "conv2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, dtype)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class ConvTranspose2d(_ConvNd):
    """Transposed convolution (the input-gradient of Conv2d, "deconvolution" in FCN):
    (N, C_in, H, W) -> (N, C_out, H', W') with
        H' = (H - 1) s - 2p + d (k - 1) + output_padding + 1,
    e.g. the decks' 3x3, stride 2, padding 1, output_padding 1: 2x2 -> 4x4.
    Weight (C_in, C_out/groups, kH, kW). forward(input, output_size=None): output_size picks
    output_padding for you when several output sizes map back to the same input size."""

    _dims = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f"Only 'zeros' padding mode is supported for ConvTranspose2d, "
                             f"got {padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError("ConvTranspose2d: padding must be an int or a pair, not "
                             f"{padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, dtype)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if not op < max(s, d):
                raise ValueError(f"ConvTranspose2d: output_padding {self.output_padding} must "
                                 f"be smaller than either stride {self.stride} or dilation "
                                 f"{self.dilation}")

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        size = tuple(int(s) for s in output_size)[-2:]
        if len(size) != 2:
            raise ValueError(f"{self!r}: output_size must give (H, W), got {output_size!r}")
        pads = []
        for i in range(2):
            n = input.shape[2 + i]
            smallest = ((n - 1) * self.stride[i] - 2 * self.padding[i]
                        + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            largest = smallest + self.stride[i] - 1
            if not smallest <= size[i] <= largest:
                raise ValueError(
                    f"{self!r}: requested an output size of {tuple(size)}, but for an input of "
                    f"{tuple(input.shape[2:])} the valid sizes along dimension {i} are "
                    f"{smallest} to {largest}: ({n} - 1)*{self.stride[i]} - 2*"
                    f"{self.padding[i]} + {self.dilation[i]}*({self.kernel_size[i]} - 1) + 1 "
                    f"= {smallest}, plus output_padding < stride")
            pads.append(size[i] - smallest)
        return tuple(pads)

    def forward(self, input, output_size=None):
        self._check_input(input)
        output_padding = self._output_padding(input, output_size)
        return self._call(F.conv_transpose2d, input, self.weight, self.bias, self.stride,
                          self.padding, output_padding, self.groups, self.dilation)
