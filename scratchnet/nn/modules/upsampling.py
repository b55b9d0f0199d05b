"""Upsample: F.interpolate as a layer (FCN / SRCNN-style decoders)."""
from __future__ import annotations

from .. import functional as F
from .module import Module


class Upsample(Module):
    """Resize (N, C, H, W) -> (N, C, H_out, W_out) to a given `size` or by `scale_factor`
    (H_out = floor(H * scale_factor)). mode: 'nearest' (copy the nearest pixel), 'bilinear'
    (align_corners as in PyTorch), or whatever else F.interpolate supports."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        kwargs = {}
        if self.recompute_scale_factor is not None:
            kwargs["recompute_scale_factor"] = self.recompute_scale_factor
        try:
            return F.interpolate(input, self.size, self.scale_factor, self.mode,
                                 self.align_corners, **kwargs)
        except ValueError as e:
            raise ValueError(f"{self!r}: {e}") from e

    def extra_repr(self):
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"
