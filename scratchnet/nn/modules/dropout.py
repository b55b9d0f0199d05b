"""Dropout layers (Srivastava et al. 2014; AlexNet's fc6/fc7 regulariser).

In training mode each unit is zeroed with probability p and the survivors are scaled by
1/(1-p) ("inverted dropout"), so that in evaluation mode the layer is simply the identity.
Masks are drawn from scratchnet's generator: `scratchnet.manual_seed(0)` reproduces them.
"""
from __future__ import annotations

from .. import functional as F
from .module import Module


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero single elements: (*) -> (*)."""

    def forward(self, input):
        return F.dropout(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zero whole channels: (N, C, H, W) -> (N, C, H, W), one draw per (n, c) feature map."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training)
