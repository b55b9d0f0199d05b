"""Pooling layers over (N, C, H, W) feature maps. The windows, indices and gradients live in
the functional ops (F.max_pool2d, F.avg_pool2d, ...); these modules hold the settings.

Output size per spatial dimension: H' = floor((H + 2p - d(k-1) - 1) / s) + 1 (ceil with
ceil_mode), the same formula as convolution; stride defaults to the kernel size, so
MaxPool2d(2) halves H and W.
"""
from __future__ import annotations

from ...shapes import pair
from .. import functional as F
from .module import Module


class _PoolBase(Module):
    def _call(self, fn, *args, **kwargs):
        """Run a functional op, prefixing its shape errors with this layer's repr."""
        try:
            return fn(*args, **kwargs)
        except ValueError as e:
            raise ValueError(f"{self!r}: {e}") from e


class MaxPool2d(_PoolBase):
    """Max over each k x k window: (N, C, H, W) -> (N, C, H', W'). Padding counts as -inf.
    With return_indices=True, forward returns (output, indices): flat offsets into each
    (n, c) input plane, which MaxUnpool2d uses to put values back."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return self._call(F.max_pool2d, input, self.kernel_size, self.stride, self.padding,
                          self.dilation, ceil_mode=self.ceil_mode,
                          return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxUnpool2d(_PoolBase):
    """The partial inverse of MaxPool2d: forward(input, indices, output_size=None) puts each
    value back at the position its max came from and zeros elsewhere, (N, C, H, W) ->
    (N, C, H_out, W_out) with H_out = (H - 1) s - 2p + k unless output_size says otherwise
    (deck 000's example: [[3, 4], [5, 6]] -> 4x4 with zeros around)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size", "MaxUnpool2d")
        self.stride = pair(stride if stride is not None else kernel_size, "stride",
                           "MaxUnpool2d")
        self.padding = pair(padding, "padding", "MaxUnpool2d")

    def forward(self, input, indices, output_size=None):
        return self._call(F.max_unpool2d, input, indices, self.kernel_size, self.stride,
                          self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_PoolBase):
    """Mean over each k x k window: (N, C, H, W) -> (N, C, H', W') (LeNet-5's subsampling).
    count_include_pad=True divides by k*k even where the window covers padding."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        kwargs = {}
        if self.divisor_override is not None:
            kwargs["divisor_override"] = self.divisor_override
        return self._call(F.avg_pool2d, input, self.kernel_size, self.stride, self.padding,
                          self.ceil_mode, self.count_include_pad, **kwargs)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(_PoolBase):
    """Average into a fixed output_size grid whatever the input size: (N, C, H, W) ->
    (N, C, *output_size). (1, 1) is global average pooling (SENet's squeeze, ResNet's head).
    None in output_size keeps that input dimension."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return self._call(F.adaptive_avg_pool2d, input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(_PoolBase):
    """Max into a fixed output_size grid: (N, C, H, W) -> (N, C, *output_size); with
    return_indices=True also the flat argmax offsets per plane."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return self._call(F.adaptive_max_pool2d, input, self.output_size,
                          self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class SpatialPyramidPooling(Module):
    """He et al.'s SPP layer: (N, C, H, W) -> (N, C * sum(n*n for n in levels)), a fixed
    length whatever H and W, so that fully connected layers can follow a map of any size.
    forward(input) pools the whole map; forward(input, boxes) pools each box's window (boxes
    as roi_pool takes them, spatial_scale maps image to map pixels), SPPNet's detection form.
    mode: "adaptive" (torch's adaptive bins, the default) or "paper" (win = ceil(a/n),
    stride = floor(a/n)); see scratchnet.ops.spp."""

    def __init__(self, levels=(6, 3, 2, 1), mode: str = "adaptive", spatial_scale: float = 1.0):
        super().__init__()
        self.levels = tuple(levels) if not isinstance(levels, int) else (levels,)
        self.mode = mode
        self.spatial_scale = spatial_scale

    def output_features(self, channels: int) -> int:
        """Length of the pooled vector for a `channels`-channel map: C * sum(n*n)."""
        return channels * sum(n * n for n in self.levels)

    def forward(self, input, boxes=None):
        try:
            if boxes is None:
                return F.spatial_pyramid_pool(input, self.levels, self.mode)
            if self.mode != "adaptive":
                raise ValueError("the RoI form pools each window with roi_pool's adaptive "
                                 f"bins; mode={self.mode!r} applies to whole maps only")
            return F.roi_spatial_pyramid_pool(input, boxes, self.levels, self.spatial_scale)
        except ValueError as e:
            raise ValueError(f"{self!r}: {e}") from e

    def extra_repr(self):
        return f"levels={self.levels}, mode={self.mode!r}, spatial_scale={self.spatial_scale}"
