"""Cases for the nn layers' own ops (linear, batch_norm, local_response_norm, dropout) and for
the layers themselves against torch.nn modules built the same way.

Layer cases put the case's input tensors in place of the layer's parameters (`_with`), so the
stored PyTorch gradients of weight and bias are compared too. Cases whose outputs include
running statistics (they depend on the input outside the graph) or that only wrap another
engineer's already-checked op skip the gradient check.
"""
import numpy as np

import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.ops.norm import Dropout as DropoutOp

from . import Case, Inp

N = Inp


def _with(module, **tensors):
    """`module` with parameters replaced by the given tensors. A Parameter built from them
    would be a new leaf and the gradients would not reach the case's inputs; this bypasses
    the Parameter type check on purpose."""
    for name, t in tensors.items():
        module._parameters[name] = t
    return module


def _torch_with(t, module, **tensors):
    """The torch twin: same parameters, as leaves the reference generator differentiates."""
    for name, value in tensors.items():
        delattr(module, name)
        setattr(module, name, value)
    return module


def _bn_inputs(shape, affine=True):
    def draw(rng):
        out = [(rng.standard_normal(shape) * 2 + 0.5, True)]
        if affine:
            c = shape[1]
            out += [(rng.uniform(0.5, 1.5, c), True), (rng.standard_normal(c), True)]
        return out
    return draw


def _bn_eval_inputs(shape):
    def draw(rng):
        c = shape[1]
        return [(rng.standard_normal(shape), True), (rng.standard_normal(c), False),
                (rng.uniform(0.5, 2.0, c), False), (rng.uniform(0.5, 1.5, c), True),
                (rng.standard_normal(c), True)]
    return draw


def _bn_steps(ours_cls, **kw):
    """Train on x, then on 2x + 1, return the second output and every buffer."""
    def ours(x):
        m = ours_cls(x.shape[1], **kw).to(x.dtype)
        m(x)
        y = m(x * 2 + 1)
        return y, m.running_mean, m.running_var, m.num_batches_tracked

    def theirs(t, x):
        m = getattr(t.nn, ours_cls.__name__)(x.shape[1], **kw).double()
        m(x)
        y = m(x * 2 + 1)
        return y, m.running_mean, m.running_var, m.num_batches_tracked
    return {"ours": ours, "theirs": theirs}


def _bn_eval_after_train(ours_cls, **kw):
    def ours(x):
        m = ours_cls(x.shape[1], **kw).to(x.dtype)
        m(x * 3 - 1)
        m(x + 0.5)
        m.eval()
        return m(x)

    def theirs(t, x):
        m = getattr(t.nn, ours_cls.__name__)(x.shape[1], **kw).double()
        m(x * 3 - 1)
        m(x + 0.5)
        m.eval()
        return m(x)
    return {"ours": ours, "theirs": theirs}


def _mlp_inputs(rng):
    return [(rng.standard_normal((3, 2, 2, 2)), True),
            (rng.standard_normal((5, 8)) * 0.5, True), (rng.standard_normal(5), True),
            (rng.standard_normal((4, 5)) * 0.5, True), (rng.standard_normal(4), True)]


def _mlp_ours(x, w1, b1, w2, b2):
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 5), nn.LeakyReLU(0.1), nn.Dropout(0.5),
                          nn.Linear(5, 4), nn.Tanh(), nn.Identity(), nn.LogSoftmax(dim=1))
    _with(model[1], weight=w1, bias=b1)
    _with(model[4], weight=w2, bias=b2)
    return model.eval()(x)


def _mlp_theirs(t, x, w1, b1, w2, b2):
    model = t.nn.Sequential(t.nn.Flatten(), t.nn.Linear(8, 5), t.nn.LeakyReLU(0.1),
                            t.nn.Dropout(0.5), t.nn.Linear(5, 4), t.nn.Tanh(),
                            t.nn.Identity(), t.nn.LogSoftmax(dim=1))
    _torch_with(t, model[1], weight=w1, bias=b1)
    _torch_with(t, model[4], weight=w2, bias=b2)
    return model.eval()(x)


def _mask(shape, p=0.4):
    def ours(x):
        rng = np.random.default_rng(3)
        keep = (rng.random(shape) >= p).astype(x.dtype) / x.dtype.type(1 - p)
        return DropoutOp.apply(x, keep)
    return ours


def _conv(name, make, torch_make, x_shape, w_shape, bias=True, output_size=None):
    """A conv layer with its weight (and bias) taken from the case's inputs. The op name is
    read from the layer, whose functional form was checked by its own cases."""
    op = {"Conv1d": "conv1d", "Conv2d": "conv2d"}.get(type(make()).__name__,
                                                      "conv_transpose2d")
    extra = {} if output_size is None else {"output_size": output_size}
    shapes = [N(x_shape), N(w_shape)] + ([N((make().out_channels,))] if bias else [])

    def ours(x, w, b=None):
        layer = _with(make().to(x.dtype), weight=w, **({"bias": b} if bias else {}))
        return layer(x, **extra)

    def theirs(t, x, w, b=None):
        layer = _torch_with(t, torch_make(t).double(), weight=w, **({"bias": b} if bias else {}))
        return layer(x, **extra)

    return Case(name, op, ours, shapes, theirs, gradcheck=False)


def _layer(name, op, make, shape, torch_make, gradcheck=False, **kw):
    """A parameterless layer against its torch.nn twin."""
    return Case(name, op, lambda x: make()(x), [N(shape)], lambda t, x: torch_make(t)(x),
                gradcheck=gradcheck, **kw)


CASES = [
    # -- linear -----------------------------------------------------------------------------------
    Case("linear", "linear", lambda x, w, b: F.linear(x, w, b), [N((3, 4)), N((5, 4)), N((5,))],
         lambda t, x, w, b: t.nn.functional.linear(x, w, b)),
    Case("linear_batched_no_bias", "linear", lambda x, w: F.linear(x, w),
         [N((2, 3, 4)), N((2, 4))], lambda t, x, w: t.nn.functional.linear(x, w)),
    Case("linear_vector", "linear", lambda x, w, b: F.linear(x, w, b),
         [N((3,)), N((2, 3)), N((2,))], lambda t, x, w, b: t.nn.functional.linear(x, w, b)),
    Case("linear_layer", "linear",
         lambda x, w, b: _with(nn.Linear(4, 3), weight=w, bias=b)(x),
         [N((2, 4)), N((3, 4)), N((3,))],
         lambda t, x, w, b: _torch_with(t, t.nn.Linear(4, 3).double(), weight=w, bias=b)(x)),
    Case("mlp_sequential_eval", "linear", _mlp_ours, _mlp_inputs, _mlp_theirs),
    # -- batch norm -------------------------------------------------------------------------------
    Case("batch_norm_train_2d", "batch_norm",
         lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), _bn_inputs((6, 3)),
         lambda t, x, w, b: t.nn.functional.batch_norm(x, None, None, w, b, training=True)),
    Case("batch_norm_train_4d", "batch_norm",
         lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
         _bn_inputs((2, 3, 3, 2)),
         lambda t, x, w, b: t.nn.functional.batch_norm(x, None, None, w, b, training=True)),
    Case("batch_norm_train_no_affine", "batch_norm",
         lambda x: F.batch_norm(x, None, None, training=True), _bn_inputs((3, 2, 4), False),
         lambda t, x: t.nn.functional.batch_norm(x, None, None, training=True)),
    Case("batch_norm_eval", "batch_norm",
         lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training=False),
         _bn_eval_inputs((4, 3, 2, 2)),
         lambda t, x, rm, rv, w, b: t.nn.functional.batch_norm(x, rm, rv, w, b,
                                                               training=False)),
    Case("batchnorm2d_layer_train", "batch_norm",
         lambda x, w, b: _with(nn.BatchNorm2d(3).to(x.dtype), weight=w, bias=b)(x),
         _bn_inputs((2, 3, 2, 3)),
         lambda t, x, w, b: _torch_with(t, t.nn.BatchNorm2d(3).double(), weight=w,
                                        bias=b)(x)),
    Case("batchnorm1d_running_stats", "batch_norm",
         **_bn_steps(nn.BatchNorm1d, momentum=0.3),
         inputs=_bn_inputs((5, 4), False), gradcheck=False),
    Case("batchnorm1d_3d_running_stats", "batch_norm", **_bn_steps(nn.BatchNorm1d),
         inputs=_bn_inputs((3, 2, 4), False), gradcheck=False),
    Case("batchnorm2d_cumulative_momentum_none", "batch_norm",
         **_bn_steps(nn.BatchNorm2d, momentum=None), inputs=_bn_inputs((2, 3, 2, 2), False),
         gradcheck=False),
    Case("batchnorm2d_eval_after_train", "batch_norm",
         **_bn_eval_after_train(nn.BatchNorm2d, momentum=0.5),
         inputs=_bn_inputs((2, 3, 3, 3), False), gradcheck=False),
    Case("batchnorm1d_eval_untracked_uses_batch", "batch_norm",
         **_bn_eval_after_train(nn.BatchNorm1d, affine=False, track_running_stats=False),
         inputs=_bn_inputs((4, 3), False)),
    # -- local response norm ----------------------------------------------------------------------
    Case("lrn_size3", "local_response_norm",
         lambda x: F.local_response_norm(x, 3, alpha=0.5, beta=0.75, k=1.0), [N((2, 5, 2, 3))],
         lambda t, x: t.nn.functional.local_response_norm(x, 3, alpha=0.5, beta=0.75, k=1.0)),
    Case("lrn_even_size_3d", "local_response_norm",
         lambda x: F.local_response_norm(x, 4, alpha=0.8, beta=0.6, k=2.0), [N((2, 6, 3))],
         lambda t, x: t.nn.functional.local_response_norm(x, 4, alpha=0.8, beta=0.6, k=2.0)),
    Case("lrn_alexnet_layer", "local_response_norm",
         lambda x: nn.LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=2.0)(x * 3),
         [N((1, 7, 2, 2))],
         lambda t, x: t.nn.LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=2.0)(x * 3)),
    Case("lrn_size_beyond_channels", "local_response_norm",
         lambda x: F.local_response_norm(x, 7, alpha=1.0, beta=1.0, k=0.5), [N((1, 3, 2, 2))],
         lambda t, x: t.nn.functional.local_response_norm(x, 7, alpha=1.0, beta=1.0, k=0.5)),
    # -- dropout (masks differ from PyTorch's generator: gradient checks only) --------------------
    Case("dropout_mask", "dropout", _mask((3, 4)), [N((3, 4))]),
    Case("dropout2d_channel_mask", "dropout", _mask((2, 3, 1, 1)), [N((2, 3, 2, 2))]),
    Case("dropout_seeded_functional", "dropout", lambda x: F.dropout(x, 0.3, generator=5),
         [N((4, 5))]),
    # -- parameterless layers around other ops, vs torch.nn ---------------------------------------
    _layer("maxpool2d_layer_overlap", "max_pool2d",
           lambda: nn.MaxPool2d(3, stride=1, padding=1, return_indices=True), (1, 2, 4, 5),
           lambda t: t.nn.MaxPool2d(3, stride=1, padding=1, return_indices=True)),
    _layer("maxpool2d_layer_ceil_dilation", "max_pool2d",
           lambda: nn.MaxPool2d((2, 3), stride=2, dilation=(1, 2), ceil_mode=True),
           (2, 1, 5, 7),
           lambda t: t.nn.MaxPool2d((2, 3), stride=2, dilation=(1, 2), ceil_mode=True)),
    Case("maxunpool2d_layer", "max_unpool2d",
         lambda x: nn.MaxUnpool2d(2)(*nn.MaxPool2d(2, return_indices=True)(x)),
         [N((1, 2, 4, 6))],
         lambda t, x: t.nn.MaxUnpool2d(2)(*t.nn.MaxPool2d(2, return_indices=True)(x)),
         gradcheck=False),
    Case("maxunpool2d_layer_output_size", "max_unpool2d",
         lambda x: nn.MaxUnpool2d(2, stride=2)(*nn.MaxPool2d(2, return_indices=True)(x),
                                               output_size=(5, 5)),
         [N((1, 1, 5, 5))],
         lambda t, x: t.nn.MaxUnpool2d(2, stride=2)(*t.nn.MaxPool2d(2, return_indices=True)(x),
                                                    output_size=(5, 5)),
         gradcheck=False),
    _layer("avgpool2d_layer", "avg_pool2d", lambda: nn.AvgPool2d(2), (2, 3, 4, 6),
           lambda t: t.nn.AvgPool2d(2)),
    _layer("avgpool2d_layer_options", "avg_pool2d",
           lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                count_include_pad=False),
           (1, 2, 6, 5),
           lambda t: t.nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                    count_include_pad=False)),
    _layer("avgpool2d_layer_divisor", "avg_pool2d",
           lambda: nn.AvgPool2d(2, divisor_override=3), (1, 2, 4, 4),
           lambda t: t.nn.AvgPool2d(2, divisor_override=3)),
    _layer("adaptive_avgpool2d_layer", "adaptive_avg_pool2d",
           lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 2, 5, 7),
           lambda t: t.nn.AdaptiveAvgPool2d((2, 3))),
    _layer("adaptive_avgpool2d_layer_global", "adaptive_avg_pool2d",
           lambda: nn.AdaptiveAvgPool2d(1), (2, 3, 4, 4), lambda t: t.nn.AdaptiveAvgPool2d(1)),
    _layer("adaptive_maxpool2d_layer_indices", "adaptive_max_pool2d",
           lambda: nn.AdaptiveMaxPool2d(3, return_indices=True), (1, 2, 7, 5),
           lambda t: t.nn.AdaptiveMaxPool2d(3, return_indices=True)),
    _layer("upsample_layer_nearest", "interpolate_nearest",
           lambda: nn.Upsample(scale_factor=2), (1, 2, 3, 2),
           lambda t: t.nn.Upsample(scale_factor=2)),
    _layer("upsample_layer_bilinear_size", "interpolate_bilinear",
           lambda: nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True), (1, 2, 3, 4),
           lambda t: t.nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True)),
    _layer("upsample_layer_bilinear_scale", "interpolate_bilinear",
           lambda: nn.Upsample(scale_factor=(2, 1.5), mode="bilinear"), (1, 1, 3, 4),
           lambda t: t.nn.Upsample(scale_factor=(2, 1.5), mode="bilinear")),
    # -- conv layers (weights from the case's inputs, so their gradients are compared) -------------
    _conv("conv2d_layer_stride_pad", lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1),
          lambda t: t.nn.Conv2d(2, 3, 3, stride=2, padding=1), (1, 2, 5, 6), (3, 2, 3, 3)),
    _conv("conv2d_layer_groups_dilation_no_bias",
          lambda: nn.Conv2d(4, 2, (2, 3), dilation=(2, 1), groups=2, bias=False),
          lambda t: t.nn.Conv2d(4, 2, (2, 3), dilation=(2, 1), groups=2, bias=False),
          (2, 4, 5, 5), (2, 2, 2, 3), bias=False),
    _conv("conv2d_layer_same_even_kernel", lambda: nn.Conv2d(2, 2, (2, 4), padding="same"),
          lambda t: t.nn.Conv2d(2, 2, (2, 4), padding="same"), (1, 2, 4, 5), (2, 2, 2, 4)),
    _conv("conv2d_layer_reflect", lambda: nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"),
          lambda t: t.nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), (2, 1, 4, 4),
          (2, 1, 3, 3)),
    _conv("conv1d_layer", lambda: nn.Conv1d(2, 3, 3, stride=2, padding=2),
          lambda t: t.nn.Conv1d(2, 3, 3, stride=2, padding=2), (2, 2, 7), (3, 2, 3)),
    _conv("conv_transpose2d_layer", lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1,
                                                               output_padding=1),
          lambda t: t.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
          (1, 2, 2, 3), (2, 3, 3, 3)),
    _conv("conv_transpose2d_layer_output_size_groups",
          lambda: nn.ConvTranspose2d(4, 2, 3, stride=3, groups=2),
          lambda t: t.nn.ConvTranspose2d(4, 2, 3, stride=3, groups=2), (1, 4, 2, 2),
          (4, 1, 3, 3), output_size=(7, 8)),
    # -- activation layers ------------------------------------------------------------------------
    _layer("relu_layer", "relu", lambda: nn.ReLU(), (3, 4), lambda t: t.nn.ReLU()),
    _layer("leaky_relu_layer", "leaky_relu", lambda: nn.LeakyReLU(0.2), (3, 4),
           lambda t: t.nn.LeakyReLU(0.2)),
    _layer("tanh_sigmoid_layers", "sigmoid", lambda: nn.Sequential(nn.Tanh(), nn.Sigmoid()),
           (3, 4), lambda t: t.nn.Sequential(t.nn.Tanh(), t.nn.Sigmoid())),
    _layer("softmax_layer_dim0", "softmax", lambda: nn.Softmax(dim=0), (3, 4),
           lambda t: t.nn.Softmax(dim=0)),
    _layer("log_softmax_layer", "log_softmax", lambda: nn.LogSoftmax(dim=1), (2, 3, 2),
           lambda t: t.nn.LogSoftmax(dim=1)),
    _layer("flatten_layer_range", "reshape", lambda: nn.Flatten(0, 2), (2, 3, 2, 2),
           lambda t: t.nn.Flatten(0, 2)),
]
