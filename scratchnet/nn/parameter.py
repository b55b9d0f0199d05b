"""Parameter: a Tensor that a Module registers as trainable."""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor with requires_grad=True by default. Assigning one as an attribute of a
    Module registers it, so it shows up in `parameters()` and `state_dict()`."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.zeros(0, dtype=np.float32)
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(np.asarray(data), requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
