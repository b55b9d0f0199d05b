"""Single-image super-resolution networks of deck 000 ("CNN 응용 사례"): SRCNN, FSRCNN (with the
two transition states of its Table 1) and VDSR, single-channel (Y) by default.

    srcnn(9, 5, 5)   bicubic-upscaled (N, 1, H, W) -> (N, 1, H, W)
    vdsr(20)         bicubic-upscaled (N, 1, H, W) -> (N, 1, H, W), input + residual
    fsrcnn(56, 12, 4, scale=3), fsrcnn_transition1(3), fsrcnn_transition2(3)
                     low-resolution (N, 1, h, w) -> (N, 1, 3h, 3w)

`table_weights(model)` counts what the FSRCNN table counts (convolution and deconvolution
weights); `macs_per_hr_pixel` gives the cost behind its speed-ups.
"""
from .fsrcnn import (FSRCNN, SRCNNDeconv, deconvolution, fsrcnn,  # noqa: F401
                     fsrcnn_transition1, fsrcnn_transition2)
from .srcnn import SRCNN, srcnn  # noqa: F401
from .vdsr import VDSR, vdsr  # noqa: F401

# models that take the low-resolution image (the others take it bicubically upscaled)
UPSCALES_ITSELF = (FSRCNN, SRCNNDeconv)


def table_weights(model) -> int:
    """Convolution and deconvolution weights, no biases or PReLU slopes, as the FSRCNN table
    (and the SRCNN paper) count parameters."""
    from ... import nn
    return sum(m.weight.numel() for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))


def macs_per_hr_pixel(model, scale=3, lr_size=12) -> float:
    """Multiply-accumulates per high-resolution output pixel, counted by `summary` on one
    forward pass (an lr_size^2 low-resolution input, or its scale x upscaled version)."""
    from ...summary import summary
    hr = lr_size * scale
    size = lr_size if isinstance(model, UPSCALES_ITSELF) else hr
    s = summary(model, (1, size, size), verbose=False)
    return s.total_macs / (hr * hr)


def identity_init_(model):
    """Start a model as plain upscaling: channel 0 of every layer is made a pass-through (a
    centred delta kernel reading channel 0 only, zero bias; the inputs are >= 0, so ReLU and
    PReLU let it through), and the last layer reads only that channel: a copy for the models
    on the bicubic image (SRCNN), a linear-interpolation kernel for the deconvolution of the
    models on the LR image (FSRCNN, the transition states). The other channels keep their
    random initialisation and learn the correction. Returns the model.

    The papers start from random weights and train for days; starting at the baseline lets a
    few minutes of training on 2 cores improve on it instead of first relearning
    interpolation. VDSR needs none of this: its global residual already starts at bicubic.
    """
    import numpy as np

    from ... import nn

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    for k, m in enumerate(layers):
        w = m.weight.data
        last = k == len(layers) - 1
        if isinstance(m, nn.ConvTranspose2d):
            s = m.stride[0]
            kh = w.shape[2]
            centre = m.padding[0] + (s - 1) / 2
            taps = np.maximum(0.0, 1.0 - np.abs(np.arange(kh) - centre) / s)
            w[:, 0] = 0
            w[0, 0] = np.outer(taps, taps)
        else:
            kh, kw = w.shape[2:]
            if last:            # its other channels keep their small random weights
                w[0, 0] = 0
            else:
                w[0] = 0
            w[0, 0, kh // 2, kw // 2] = 1.0
        m.bias.data[0] = 0
    return model
