"""Weight initialisation, as torch.nn.init.

Every function fills a tensor in place (it keeps its dtype and identity) and returns it. The
random ones draw from scratchnet's generator, so `scratchnet.manual_seed(0)` makes a model's
initial weights reproducible; pass `generator=` (a numpy Generator or an int seed) to use
another stream.

Fans. For a weight of shape (out, in, *kernel) the receptive field is prod(kernel) and

    fan_in  = in  * prod(kernel)        (inputs feeding one output unit)
    fan_out = out * prod(kernel)

Linear (out, in) has fan_in = in. ConvTranspose2d's weight is (in, out/groups, kH, kW), and
PyTorch applies the same rule to it, so its "fan_in" is out/groups * kH * kW; we do the same.

Why these scales (He et al. 2015; Glorot & Bengio 2010): a layer y = W x with Var(W) = s^2
gives Var(y) = fan_in * s^2 * E[x^2]. He init picks s = gain / sqrt(fan_in) so activations
keep their scale through ReLU layers (gain sqrt(2) makes up for ReLU zeroing half the
inputs); Xavier averages the forward and backward fans.
"""
from __future__ import annotations

import math

import numpy as np

from .. import random as _random
from ..autograd.tensor import Tensor

_LINEAR_LIKE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended scale for a nonlinearity, as torch.nn.init.calculate_gain.

    linear / conv / sigmoid: 1;  tanh: 5/3;  relu: sqrt(2);
    leaky_relu: sqrt(2 / (1 + negative_slope^2)) (slope `param`, default 0.01);  selu: 3/4.
    """
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; known: "
                     f"{', '.join(_LINEAR_LIKE + ('tanh', 'relu', 'leaky_relu', 'selu'))}")


def _shape(tensor):
    return tuple(tensor.shape)


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight: (in * prod(kernel), out * prod(kernel))."""
    shape = _shape(tensor)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {shape}): a bias has no fan; initialise it "
                         "with uniform_ or zeros_")
    receptive_field = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _array(tensor):
    if isinstance(tensor, Tensor):
        return tensor.data
    if isinstance(tensor, np.ndarray):
        return tensor
    raise TypeError(f"init functions fill a Tensor or ndarray in place, got "
                    f"{type(tensor).__name__}")


def _fill(tensor, values):
    a = _array(tensor)
    # assignment casts to the tensor's own dtype: float32 stays float32
    a[...] = values
    if isinstance(tensor, Tensor):
        tensor._bump_version()
    return tensor


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with draws from U(a, b)."""
    g = _random.get_generator(generator)
    return _fill(tensor, g.uniform(a, b, _shape(tensor)))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with draws from N(mean, std^2)."""
    g = _random.get_generator(generator)
    return _fill(tensor, g.normal(mean, std, _shape(tensor)))


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None):
    """Fill with N(mean, std^2) restricted to [a, b] (bounds in absolute units, as torch).
    Values outside are redrawn, which samples the truncated distribution exactly."""
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    g = _random.get_generator(generator)
    shape = _shape(tensor)
    out = g.normal(mean, std, shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = g.normal(mean, std, int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(tensor, out)


def constant_(tensor, val: float):
    return _fill(tensor, val)


def zeros_(tensor):
    return _fill(tensor, 0)


def ones_(tensor):
    return _fill(tensor, 1)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std       # U(-a, a) has std a / sqrt(3)
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        raise ValueError(f"kaiming init: the weight of shape {_shape(tensor)} has {mode} 0")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None):
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al. 2015).

    `a` is the negative slope of the leaky ReLU that follows (0 = plain ReLU, gain sqrt(2)).
    Linear and Conv layers use a = sqrt(5) by default, which gives gain sqrt(1/3) and so
    bound = 1 / sqrt(fan_in): PyTorch's historical default.
    """
    if _array(tensor).size == 0:
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan) (He et al. 2015)."""
    if _array(tensor).size == 0:
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def bilinear_(tensor):
    """Fill a transposed-convolution weight (C, C, k, k) so that the layer upsamples each
    channel by bilinear interpolation (FCN's initialisation; not in torch.nn.init).

    The k-tap filter is the triangle 1 - |t - c| / f with f = ceil(k / 2) and c its centre
    ((k - 1) / 2), the outer product of two of them in 2-D, on the diagonal channel pairs
    (channel i feeds only channel i). With stride s = f and k = 2s (padding s/2 when s is
    even), the output equals F.interpolate(mode="bilinear", align_corners=False) away from the
    border; at the border the transposed convolution sees zeros where interpolate repeats the
    edge."""
    shape = _shape(tensor)
    if len(shape) != 4 or shape[0] != shape[1] or shape[2] != shape[3]:
        raise ValueError(f"bilinear_: expected a (C, C, k, k) transposed-convolution weight, "
                         f"got shape {shape}")
    c, _, k, _ = shape
    f = (k + 1) // 2
    centre = (k - 1) / 2
    taps = 1 - np.abs(np.arange(k) - centre) / f
    weights = np.zeros(shape)
    weights[np.arange(c), np.arange(c)] = np.outer(taps, taps)
    return _fill(tensor, weights)
