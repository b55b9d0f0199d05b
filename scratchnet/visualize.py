"""Seeing inside a CNN: filters, feature maps, deconvnet projections, saliency and Grad-CAM.

    grid = filter_grid(model)                               # (3, H', W') in [0, 1]
    maps = feature_maps(model, x, ["features.0", "features.3"])   # name -> (N, C, H, W)
    picture = deconv_projection(model, x, "features.5", channel=7)   # (N, C_in, H, W)
    smap = saliency(model, x)                               # (N, H, W), |d score / d pixel|
    cam = grad_cam(model, x, "features.5")                  # (N, H, W), upsampled to the input

Five ways to look, from the oldest to the newest:

- The first layer's filters live in pixel space, so they can be drawn directly (deck 004's
  picture of AlexNet's 64 filters of 3 x 11 x 11: oriented edges and colour blobs).
- Feature maps (activation maps) of any layer, read with forward hooks while the network runs.
- Zeiler & Fergus (2014), "Visualizing and Understanding Convolutional Networks" (ZFNet, deck
  004's ImageNet history): keep one activation, set the rest of its layer to zero, and run the
  network backwards to pixels: unpool with the max-pooling switches recorded on the way up,
  rectify, apply the transposed filters; repeat down to the input.
- Simonyan, Vedaldi & Zisserman (2014), "Deep Inside Convolutional Networks": the gradient of
  the class score with respect to the pixels; the map is max over channels of its magnitude.
- Selvaraju et al. (2017), "Grad-CAM": weight each feature map of a layer by the spatial mean of
  the class score's gradient with respect to it, sum, keep the positive part, upsample.

The class score is the logit (before softmax), as both papers use it. The model is run in eval
mode (and put back as it was); gradients the methods compute do not stay on the parameters.
"""
from __future__ import annotations

import numpy as np

from . import nn
from .autograd.grad_mode import enable_grad, no_grad
from .autograd.tensor import Tensor
from .nn import functional as F
from .utils.draw import make_grid

# Layers the deconvnet passes through unchanged on the way down: Zeiler & Fergus do not undo
# contrast normalisation, and dropout is the identity in eval mode.
PASS_THROUGH = (nn.LocalResponseNorm, nn.Dropout, nn.Identity, nn.BatchNorm2d)
# Every non-linearity is undone the way the deconvnet undoes ReLU: by a ReLU.
ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ReLU6)
# Layers the deconvnet knows how to walk back through (see deconv_projection)
PROJECTABLE = (nn.MaxPool2d, nn.Conv2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d) + ACTIVATIONS \
    + PASS_THROUGH


def _as_tensor(x) -> Tensor:
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if data.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(data.shape)}")
    return Tensor(data)


def layer_names(model) -> list:
    """Names of the model's leaf modules (layers without children), in registration order:
    the names `feature_maps`, `deconv_projection` and `grad_cam` accept."""
    return [name for name, m in model.named_modules() if name and not m._modules]


def _get_layer(model, name):
    modules = dict(model.named_modules())
    if name not in modules or not name:
        raise ValueError(f"{type(model).__name__} has no layer {name!r}; its layers are: "
                         f"{', '.join(layer_names(model))}")
    return modules[name]


class _EvalMode:
    """Eval mode for the duration of a `with` block; the parameters' .grad as they were."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.training = self.model.training
        self.grads = [(p, p.grad) for p in self.model.parameters()]
        self.model.eval()
        return self

    def __exit__(self, *exc):
        self.model.train(self.training)
        for p, g in self.grads:
            p.grad = g
        return False


def first_conv(model):
    """(name, Conv2d) of the first convolution in registration order, the one that looks at
    the pixels."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            return name, m
    raise ValueError(f"{type(model).__name__} has no Conv2d layer, so no filters to draw")


def filter_grid(model_or_weight, nrow: int = 8, padding: int = 1) -> np.ndarray:
    """The first layer's filters tiled into one picture, like deck 004's AlexNet figure.

    model_or_weight: a model (its first Conv2d is used) or a weight (K, C, kH, kW).
    Returns (3, H', W') float in [0, 1]: 3-channel filters as colour, 1-channel filters as
    grey, each filter scaled on its own (its minimum black, its maximum white), so a filter
    with small weights is as visible as one with large ones. Other channel counts (a deeper
    layer's filters) are drawn one grey square per (filter, input channel) pair, C per row.
    """
    if isinstance(model_or_weight, nn.Module):
        model_or_weight = first_conv(model_or_weight)[1].weight
    w = np.asarray(model_or_weight.data if isinstance(model_or_weight, Tensor)
                   else model_or_weight, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"filter_grid: expected a conv weight (K, C, kH, kW), got shape "
                         f"{w.shape}")
    K, C = w.shape[:2]
    if C not in (1, 3):
        w, nrow = w.reshape(K * C, 1, *w.shape[2:]), C
    return make_grid(w, nrow=nrow, padding=padding, normalize=True, scale_each=True,
                     pad_value=1.0)


def feature_maps(model, x, layers) -> dict:
    """The output of each named layer when `model` runs on `x`, through forward hooks.

    layers: a name or a list of names from `layer_names(model)` (e.g. "features.0").
    Returns {name: ndarray (N, C, H, W) (or whatever shape the layer outputs)}.
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    captured = {}
    handles = []

    def keep(name):
        def hook(module, args, output):
            captured[name] = output.data.copy()
        return hook

    try:
        for name in names:
            handles.append(_get_layer(model, name).register_forward_hook(keep(name)))
        with _EvalMode(model), no_grad():
            model(_as_tensor(x))
    finally:
        for h in handles:
            h.remove()
    return {name: captured[name] for name in names}


def _record_chain(model, x, stop=None):
    """Run the model once; return [(name, module, input array, output array)] of the leaf
    layers up to and including `stop`, checking that each one's input is the previous one's
    output (a plain stack of layers, which the deconvnet can walk back down). With stop=None,
    the longest such stack from the input on, without complaint where it ends."""
    if stop is not None:
        _get_layer(model, stop)
    records = []
    handles = []

    def keep(name):
        def hook(module, args, output):
            records.append((name, module, args[0] if args else None, output))
        return hook

    try:
        for name, m in model.named_modules():
            if name and not m._modules:
                handles.append(m.register_forward_hook(keep(name)))
        with no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    chain = []
    previous = x
    for name, module, inp, out in records:
        if inp is not previous:
            if stop is None:
                return chain
            before = chain[-1][0] if chain else "the input"
            raise ValueError(f"deconv_projection: the network is not a plain stack of layers "
                             f"up to {stop!r}: {name} ({type(module).__name__}) does not read "
                             f"the output of {before}, so it cannot be walked back")
        chain.append((name, module, inp.data, out.data))
        if name == stop:
            return chain
        previous = out
    if stop is None:
        return chain
    raise ValueError(f"deconv_projection: layer {stop!r} did not run in the forward pass")


def projectable_layers(model, x) -> list:
    """Names of the layers whose feature maps `deconv_projection` can take back to pixels
    for input x: the plain stack from the input on, as long as every layer in it is one the
    deconvnet knows how to walk back through."""
    names = []
    with _EvalMode(model):
        for name, module, _, out in _record_chain(model, _as_tensor(x)):
            if not isinstance(module, PROJECTABLE):
                break
            if out.ndim == 4:
                names.append(name)
    return names


def class_scores(model, x) -> np.ndarray:
    """The model's logits (N, K) for x in eval mode, without a graph."""
    with _EvalMode(model), no_grad():
        return model(_as_tensor(x)).data


def _unpool(r, inp, pool):
    """Max unpooling with the switches: put each value of `r` back where max pooling found
    the maximum of its window on the way up (Zeiler & Fergus, Figure 1). Where overlapping
    windows (3x3, stride 2 in AlexNet and ZFNet) chose the same pixel, their values add up,
    as in the transpose of max pooling; with windows that do not overlap this is exactly
    F.max_unpool2d."""
    _, switches = F.max_pool2d(Tensor(inp), pool.kernel_size, stride=pool.stride,
                               padding=pool.padding, dilation=pool.dilation,
                               ceil_mode=pool.ceil_mode, return_indices=True)
    N, C, H, W = inp.shape
    planes = np.zeros((N * C, H * W), dtype=r.dtype)
    idx = switches.data.reshape(N * C, -1)
    np.add.at(planes, (np.arange(N * C)[:, None], idx), r.reshape(N * C, -1))
    return planes.reshape(N, C, H, W)


def _transposed_filter(r, inp, conv):
    """The same filters, transposed (conv_transpose2d with the conv's own weight, no bias):
    each value of `r` paints its filter back onto the pixels it was computed from."""
    if isinstance(conv.padding, str):
        raise ValueError(f"deconv_projection: {type(conv).__name__} with padding="
                         f"{conv.padding!r}; give the padding as numbers")
    size = []
    for i in range(2):
        s, p, d, k = conv.stride[i], conv.padding[i], conv.dilation[i], conv.kernel_size[i]
        # the input rows a stride left out at the bottom/right: output_padding restores them
        size.append(inp.shape[2 + i] - ((r.shape[2 + i] - 1) * s - 2 * p + d * (k - 1) + 1))
    out = F.conv_transpose2d(Tensor(r), conv.weight.detach(), stride=conv.stride,
                             padding=conv.padding, output_padding=tuple(size),
                             groups=conv.groups, dilation=conv.dilation)
    return out.data


def _adjoint(r, inp, module):
    """The transpose of a linear layer (average pooling): d<module(z), r>/dz at any z."""
    with enable_grad():
        z = Tensor(np.zeros_like(inp), requires_grad=True)
        module(z).backward(r)
    return z.grad.data


def deconv_projection(model, x, layer: str, channel=None, keep: str = "max") -> np.ndarray:
    """Zeiler & Fergus's deconvnet: project one activation of `layer` back to pixel space.

    model: a network whose layers up to `layer` form a plain stack (LeNet-5, the ConvNetJS
        net, AlexNet, ZFNet, VGG: their `features`); x: images (N, C, H, W).
    layer: a name from `layer_names(model)`; channel: the feature map to project (an int, or
        None for the map with the strongest activation, chosen per image).
    keep: "max" keeps only the strongest activation of that map (the paper's figures), "map"
        keeps the whole map; every other activation of the layer is set to zero.
    Returns (N, C, H, W), the reconstruction in the input's shape (signed; draw it normalised).

    Going down from `layer` to the input, layer by layer:
        max pooling  -> unpool with the switches recorded on the way up
        ReLU (any non-linearity, e.g. LeNet-5's tanh) -> ReLU, as the paper rectifies
        convolution  -> the same filters transposed (conv_transpose2d), bias left out
        average pooling (LeNet-5; not in the paper, which has none) -> its transpose: each
        value spread evenly over its window
        LRN, dropout, batch norm -> passed through unchanged
    """
    if keep not in ("max", "map"):
        raise ValueError(f"deconv_projection: keep must be 'max' or 'map', got {keep!r}")
    x = _as_tensor(x)
    with _EvalMode(model):
        chain = _record_chain(model, x, layer)
        act = chain[-1][3]
        if act.ndim != 4:
            raise ValueError(f"deconv_projection: {layer} outputs shape {act.shape}, not "
                             f"feature maps (N, C, H, W); choose a convolutional layer")
        N, C = act.shape[:2]
        channels = [channel] * N if channel is not None else \
            list(act.reshape(N, C, -1).max(axis=2).argmax(axis=1))
        r = np.zeros_like(act)
        for n, c in enumerate(channels):
            if not 0 <= int(c) < C:
                raise ValueError(f"deconv_projection: {layer} has {C} channels, channel {c} "
                                 f"does not exist")
            if keep == "map":
                r[n, c] = act[n, c]
            else:
                i = int(np.argmax(act[n, c]))
                r[n, c].flat[i] = act[n, c].flat[i]
        for name, module, inp, _ in reversed(chain):
            if isinstance(module, nn.MaxPool2d):
                r = _unpool(r, inp, module)
            elif isinstance(module, ACTIVATIONS):
                r = np.maximum(r, 0)
            elif isinstance(module, nn.Conv2d):
                r = _transposed_filter(r, inp, module)
            elif isinstance(module, (nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
                r = _adjoint(r, inp, module)
            elif isinstance(module, PASS_THROUGH):
                pass
            else:
                raise ValueError(f"deconv_projection: cannot project back through {name} "
                                 f"({type(module).__name__}); choose a layer before it")
    return r


def _targets(logits, target):
    N = logits.shape[0]
    if target is None:
        return np.argmax(logits.data, axis=1)
    t = np.broadcast_to(np.asarray(target, dtype=np.int64), (N,))
    K = logits.shape[1]
    if np.any((t < 0) | (t >= K)):
        raise ValueError(f"target class {t.tolist()} outside the model's {K} classes 0..{K - 1}")
    return t


def _class_score_backward(logits, target):
    """Backpropagate the sum over images of each image's target logit; returns the
    targets. (Images do not interact in eval mode, so each gets its own gradient.)"""
    if logits.ndim != 2:
        raise ValueError(f"expected class scores (N, K) from the model, got shape "
                         f"{tuple(logits.shape)}")
    t = _targets(logits, target)
    seed = np.zeros(logits.shape, dtype=logits.dtype)
    seed[np.arange(len(t)), t] = 1
    logits.backward(seed)
    return t


def saliency(model, x, target=None) -> np.ndarray:
    """Simonyan et al.'s image-specific class saliency map.

    x: (N, C, H, W); target: the class per image (int or sequence; default: the predicted
    class). Returns (N, H, W): max over channels of |d score_target / d pixel|.
    """
    x = _as_tensor(x)
    x.requires_grad_(True)
    with _EvalMode(model), enable_grad():
        _class_score_backward(model(x), target)
    return np.abs(x.grad.data).max(axis=1)


def grad_cam(model, x, layer: str, target=None, upsample: bool = True) -> np.ndarray:
    """Selvaraju et al.'s Grad-CAM for the maps A (N, K, h, w) that `layer` outputs.

        alpha_k = mean over (i, j) of d score_target / d A_k[i, j]
        cam     = ReLU(sum_k alpha_k A_k)               (N, h, w)

    upsampled bilinearly (align_corners=False) to the input's H x W unless upsample=False.
    target: the class per image (default: the predicted class). Returns (N, H, W) (or
    (N, h, w)), not normalised: divide by the maximum to draw it.
    """
    x = _as_tensor(x)
    # the input requires grad so that the gradient reaches the layer even when the
    # parameters are frozen (requires_grad_(False))
    x.requires_grad_(True)
    captured = {}

    def hook(module, args, output):
        captured["maps"] = output
        output.register_hook(lambda g: captured.__setitem__("grads", g.data.copy()))

    handle = _get_layer(model, layer).register_forward_hook(hook)
    try:
        with _EvalMode(model), enable_grad():
            _class_score_backward(model(x), target)
    finally:
        handle.remove()
    maps = captured["maps"].data
    if maps.ndim != 4:
        raise ValueError(f"grad_cam: {layer} outputs shape {maps.shape}, not feature maps "
                         f"(N, K, h, w); choose a convolutional layer")
    grads = captured.get("grads", np.zeros_like(maps))
    alpha = grads.mean(axis=(2, 3), keepdims=True)
    cam = np.maximum((alpha * maps).sum(axis=1), 0)
    if not upsample:
        return cam
    up = F.interpolate(Tensor(cam[:, None]), size=tuple(x.shape[2:]), mode="bilinear",
                       align_corners=False)
    return up.data[:, 0]


def deletion_drop(model, x, ranking, k: int, fill: float) -> float:
    """How much the pixels a map ranks highest matter: the mean fall of each image's
    predicted-class logit after its k top-ranked pixels are set to `fill` (a deletion test).

    x: (N, 1, H, W) array; ranking: (N, H, W), higher = delete first (ties: the first in
    raster order). Returns mean over images of logit_before - logit_after for the class the
    model predicted before the deletion.
    """
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[1] != 1 or np.shape(ranking) != (x.shape[0],) + x.shape[2:]:
        raise ValueError(f"deletion_drop: x must be (N, 1, H, W) and ranking (N, H, W), got "
                         f"{x.shape} and {np.shape(ranking)}")
    rows = np.arange(len(x))
    deleted = x.copy()
    for n in rows:
        top = np.argsort(-np.asarray(ranking[n]).ravel(), kind="stable")[:k]
        deleted[n, 0].flat[top] = fill
    with _EvalMode(model), no_grad():
        before = model(Tensor(x)).data
        after = model(Tensor(deleted)).data
    cls = before.argmax(1)
    return float(np.mean(before[rows, cls] - after[rows, cls]))
