"""Normalisation layers: BatchNorm1d / BatchNorm2d (Ioffe & Szegedy 2015) and AlexNet's
LocalResponseNorm."""
from __future__ import annotations

import numpy as np

from ... import dtypes
from ...autograd.tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d; they differ only in the input ranks accepted.

    Parameters (affine=True): weight (gamma) ones (C,), bias (beta) zeros (C,).
    Buffers (track_running_stats=True): running_mean zeros (C,), running_var ones (C,),
    num_batches_tracked 0 (int64): the keys of PyTorch's state dict.

    Training mode normalises with the batch's mean and biased variance and updates the
    running statistics with `momentum` (new = (1 - momentum) * old + momentum * batch, with
    the unbiased batch variance); momentum=None uses the cumulative average instead
    (momentum = 1 / num_batches_tracked). Evaluation mode normalises with the running
    statistics, so one image gives the same output whatever batch it comes in. Without
    running statistics (track_running_stats=False) batch statistics are used in both modes.
    """

    _accepts = ()
    _expects = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *,
                 bias: bool = True):
        super().__init__()
        dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.num_features, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, input):
        if input.ndim not in self._accepts:
            raise ValueError(f"{self!r} expects {self._expects} input, got "
                             f"{input.ndim}-D input of shape {tuple(input.shape)}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{self!r} expects {self.num_features} channels on axis 1 "
                             f"(num_features={self.num_features}), got input of shape "
                             f"{tuple(input.shape)} with {input.shape[1]}")

    def forward(self, input):
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:
                # cumulative moving average: after k batches, the plain mean of all k
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch_stats = self.training or self.running_mean is None
        # in training without tracking, F.batch_norm gets no buffers to update
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm for fully connected features (N, C) or sequences (N, C, L) -> same shape;
    statistics per feature C over N (and L)."""

    _accepts = (2, 3)
    _expects = "2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm for feature maps: (N, C, H, W) -> (N, C, H, W); statistics per channel
    over N, H and W."""

    _accepts = (4,)
    _expects = "4-D (N, C, H, W)"


class LocalResponseNorm(Module):
    """AlexNet's local response normalisation across channels (N, C, *) -> (N, C, *):

        b_c = a_c * (k + alpha / n * sum_{c'=c-n//2}^{c+(n-1)//2} a_{c'}^2)^-beta,  n = size

    PyTorch's formula (alpha is divided by n; the AlexNet paper's alpha is not, so the
    paper's alpha=1e-4 corresponds to alpha=5e-4 here with n=5). AlexNet: size=5, beta=0.75,
    k=2.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class LayerNorm(Module):
    """Layer normalisation over the last dims given by `normalized_shape`:
    (*, *normalized_shape) -> the same shape. Each sample is normalised with its own mean and
    (biased) variance, so unlike batch norm it behaves the same in training and evaluation
    and for a batch of one. Parameters (elementwise_affine): weight ones and bias zeros of
    shape normalized_shape, torch's keys."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Group normalisation: the C channels in num_groups groups, each sample normalised per
    group (N, C, *) -> (N, C, *). Parameters (affine): weight ones and bias zeros, (C,)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        self.eps = eps
        self.affine = affine
        dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        if affine:
            self.weight = Parameter(np.ones(self.num_channels, dtype))
            self.bias = Parameter(np.zeros(self.num_channels, dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input):
        if input.ndim >= 2 and input.shape[1] != self.num_channels:
            raise ValueError(f"{self!r} expects {self.num_channels} channels on axis 1, got "
                             f"input of shape {tuple(input.shape)}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
