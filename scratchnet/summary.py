"""Counting a network: `summary` (parameters, multiply-accumulates, shapes, memory) and
`receptive_field` (how much of the image each layer sees).

Parameters of a layer, as the decks count them:

    Conv2d(C -> K, kh x kw, groups g)   weights K * (C/g) * kh * kw,   biases K
    Linear(n -> m)                      weights m * n,                 biases m
    BatchNorm2d(C)                      weights C (the scale gamma),   biases C (the shift beta)

Multiply-accumulates (MACs) of one forward pass: every output value of a convolution costs
(C/g) * kh * kw of them, every output of a linear layer n. Pooling, normalisation and
activations cost a few operations per value and are not counted, as in the papers' tables.

Receptive field of a chain of layers with kernel k, stride s, padding p, dilation d, starting
from one pixel (r = 1, jump j = 1):

    r_out = r_in + d * (k - 1) * j_in        j_out = j_in * s

so two 3x3 convolutions see 5x5, and SRCNN's 9-5-5 layers see 1 + 8 + 4 + 4 = 17 pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import nn
from .autograd import no_grad
from .autograd.tensor import Tensor
from .dtypes import get_default_dtype
from .shapes import conv_output_size, pair


# -- summary ----------------------------------------------------------------------------------
@dataclass
class LayerSummary:
    """One row of a summary: a layer call, its output and its parameters (counted at the
    layer's first call only, so that a layer used twice is not counted twice)."""
    name: str
    type: str
    output_shape: Optional[tuple]
    weights: int
    biases: int
    macs: int
    trainable: int
    output_bytes: int = 0

    @property
    def params(self) -> int:
        return self.weights + self.biases


@dataclass
class ModelSummary:
    """What `summary` returns; `str()` gives the table."""
    model_name: str
    input_shape: tuple
    rows: list
    weights_only: bool
    input_bytes: int
    param_bytes: int
    output_shape: Optional[tuple] = None

    @property
    def total_weights(self) -> int:
        return sum(r.weights for r in self.rows)

    @property
    def total_biases(self) -> int:
        return sum(r.biases for r in self.rows)

    @property
    def total_params(self) -> int:
        """Weights and biases, or weights alone with weights_only=True."""
        return self.total_weights if self.weights_only else self.total_weights + self.total_biases

    @property
    def trainable_params(self) -> int:
        return sum(r.trainable for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def activation_bytes(self) -> int:
        """Bytes of every layer output of one forward pass, the input included: what a
        training step keeps alive for its backward pass (an upper bound under no_grad)."""
        return self.input_bytes + sum(r.output_bytes for r in self.rows)

    def __getitem__(self, name: str) -> LayerSummary:
        """The first row of the layer called `name` ("features.conv1")."""
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"summary: no layer named {name!r}; layers: "
                       + ", ".join(r.name for r in self.rows[:8])
                       + (", ..." if len(self.rows) > 8 else ""))

    def __str__(self) -> str:
        count = "Weights" if self.weights_only else "Params"
        header = ["Layer (type)", "Output shape", "Weights", "Biases", count, "MACs"]
        table = []
        for r in self.rows:
            shape = "not run" if r.output_shape is None else str(tuple(r.output_shape))
            table.append([f"{r.name or '(model)'} ({r.type})", shape, f"{r.weights:,}",
                          f"{r.biases:,}", f"{r.weights if self.weights_only else r.params:,}",
                          f"{r.macs:,}"])
        widths = [max(len(header[i]), *(len(row[i]) for row in table)) if table
                  else len(header[i]) for i in range(len(header))]
        widths[0] = min(widths[0], 60)

        def line(cells):
            first = cells[0] if len(cells[0]) <= widths[0] else cells[0][:widths[0] - 1] + "~"
            return "  ".join([first.ljust(widths[0]), cells[1].ljust(widths[1])]
                             + [c.rjust(w) for c, w in zip(cells[2:], widths[2:])])

        rule = "-" * len(line(header))
        out = [f"{self.model_name}: {tuple(self.input_shape)} -> {self.output_shape}", rule,
               line(header), rule]
        out += [line(row) for row in table]
        out.append(rule)
        what = "weights only, biases not counted" if self.weights_only else "weights + biases"
        out.append(f"Total parameters ({what}): {self.total_params:,}")
        out.append(f"  weights {self.total_weights:,}, biases {self.total_biases:,}, "
                   f"trainable {self.trainable_params:,}")
        out.append(f"Multiply-accumulates: {self.total_macs:,} ({self.total_macs / 1e9:.3f} G)")
        out.append(f"Activation memory of one forward pass: {_mib(self.activation_bytes)}")
        out.append(f"Parameter memory: {_mib(self.param_bytes)}")
        return "\n".join(out)

    __repr__ = __str__


def _mib(n: int) -> str:
    return f"{n / 2**20:,.2f} MiB"


def _is_bias(name: str) -> bool:
    return name == "bias" or name.endswith("_bias")


def _macs(module, inputs, output) -> int:
    if not isinstance(output, Tensor):
        return 0
    if isinstance(module, nn.ConvTranspose2d):
        # every input value is scattered through a (K/g) x kh x kw block of the weight
        kh, kw = module.kernel_size
        return inputs[0].numel() * (module.out_channels // module.groups) * kh * kw
    if isinstance(module, (nn.Conv2d, nn.Conv1d)):
        per_output = (module.in_channels // module.groups) * int(np.prod(module.kernel_size))
        return output.numel() * per_output
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def _shape_of(output):
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        shapes = [tuple(o.shape) for o in output if isinstance(o, Tensor)]
        return shapes[0] if len(shapes) == 1 else tuple(shapes)
    return None


def _bytes_of(output):
    if isinstance(output, Tensor):
        return output.data.nbytes
    if isinstance(output, (tuple, list)):
        return sum(o.data.nbytes for o in output if isinstance(o, Tensor))
    return 0


def summary(model, input_shape, batch_size: int = 1, weights_only: bool = False,
            dtype=None, verbose: bool = True) -> ModelSummary:
    """Run one forward pass on random input of shape (batch_size, *input_shape) and tabulate
    every layer: name, type, output shape, weights, biases, parameters and multiply-adds.

    `input_shape` leaves out the batch: (3, 224, 224). The model runs in eval mode under
    no_grad (so BatchNorm statistics are not touched) and is put back as it was. Layers that
    do not run in eval mode (GoogLeNet's auxiliary classifiers) are listed as "not run", with
    their parameters, so the total is always the model's parameter count. With
    `weights_only=True` the parameter column and total leave the biases out, as the decks count
    (AlexNet conv1: 34,848). Prints the table when `verbose`; returns a ModelSummary.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"summary: expected an nn.Module, got {type(model).__name__}")
    input_shape = tuple(int(s) for s in input_shape)
    if batch_size < 1:
        raise ValueError(f"summary: batch_size must be >= 1, got {batch_size}")
    params = list(model.parameters())
    if dtype is None:
        dtype = params[0].dtype if params else get_default_dtype()
    x = Tensor(np.random.default_rng(0).standard_normal((batch_size,) + input_shape)
               .astype(dtype))

    rows = []
    counted = set()

    def layers():
        for name, m in model.named_modules():
            own = [p for p in m._parameters.values() if p is not None]
            if not m._modules or own:
                yield name, m

    def make_row(name, m, output_shape, macs=0, output_bytes=0):
        weights = biases = trainable = 0
        if id(m) not in counted:
            counted.add(id(m))
            for pname, p in m._parameters.items():
                if p is None:
                    continue
                if _is_bias(pname):
                    biases += p.numel()
                else:
                    weights += p.numel()
                if p.requires_grad and not (weights_only and _is_bias(pname)):
                    trainable += p.numel()
        return LayerSummary(name, type(m).__name__, output_shape, weights, biases, macs,
                            trainable, output_bytes)

    def hook_for(name):
        def hook(m, inputs, output):
            rows.append(make_row(name, m, _shape_of(output), _macs(m, inputs, output),
                                 _bytes_of(output)))
        return hook

    modes = {id(m): m.training for m in model.modules()}
    handles = [m.register_forward_hook(hook_for(name)) for name, m in layers()]
    try:
        model.eval()
        with no_grad():
            output = model(x)
    finally:
        for h in handles:
            h.remove()
        for m in model.modules():
            m.training = modes[id(m)]
    for name, m in layers():
        if id(m) not in counted and any(p is not None for p in m._parameters.values()):
            rows.append(make_row(name, m, None))

    result = ModelSummary(type(model).__name__, (batch_size,) + input_shape, rows,
                          weights_only, x.data.nbytes,
                          sum(p.data.nbytes for p in params), _shape_of(output))
    if verbose:
        print(result)
    return result


# -- receptive field --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Step:
    """What a layer (or a block, reduced to one) does to positions, per axis (h, w):
    effective kernel size K, stride S, and the offset C of its first window's centre."""
    K: tuple
    S: tuple
    C: tuple

    def then(self, other: "_Step") -> "_Step":
        return _Step(tuple(k + (k2 - 1) * s for k, k2, s in zip(self.K, other.K, self.S)),
                     tuple(s * s2 for s, s2 in zip(self.S, other.S)),
                     tuple(c + c2 * s for c, c2, s in zip(self.C, other.C, self.S)))


_IDENTITY = _Step((1, 1), (1, 1), (0.0, 0.0))


class _Global:
    """Marks a layer that mixes every position (Linear, global pooling, an SE block)."""


_GLOBAL = _Global()


def _union(steps, where):
    """Parallel branches whose outputs are added or concatenated: the field is the union of
    the branch fields (the branches must agree on the stride to be combinable)."""
    strides = {s.S for s in steps}
    if len(strides) > 1:
        raise ValueError(f"receptive_field: the branches of {where} have different strides "
                         f"{sorted(strides)}, so their outputs could not be combined")
    K, C = [], []
    for axis in range(2):
        lo = min(s.C[axis] - (s.K[axis] - 1) / 2 for s in steps)
        hi = max(s.C[axis] + (s.K[axis] - 1) / 2 for s in steps)
        K.append(int(round(hi - lo)) + 1)
        C.append((lo + hi) / 2)
    return _Step(tuple(K), steps[0].S, tuple(C))


def _layer_step(m):
    """(step, geometry) of one layer, _GLOBAL, or None for a layer that keeps positions."""
    if isinstance(m, nn.ConvTranspose2d):
        raise ValueError("receptive_field: a transposed convolution upsamples, so its output "
                         "pixels do not have one receptive field in the chain sense; give the "
                         "layers before it")
    if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        k = pair(m.kernel_size)
        s = pair(m.stride if m.stride is not None else m.kernel_size)
        d = pair(getattr(m, "dilation", 1))
        if isinstance(m.padding, str):       # 'same' / 'valid'
            p = tuple(di * (ki - 1) // 2 for ki, di in zip(k, d)) if m.padding == "same" \
                else (0, 0)
        else:
            p = pair(m.padding)
        return _leaf(k, s, p, d, bool(getattr(m, "ceil_mode", False)))
    if isinstance(m, (nn.Linear, nn.Flatten, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return _GLOBAL
    return None


def _leaf(k, s, p, d, ceil_mode=False):
    """(step, geometry) of one layer; the geometry (k, s, p, d, ceil_mode) gives output
    sizes."""
    K = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
    step = _Step(K, tuple(s), tuple((Ki - 1) / 2 - pi for Ki, pi in zip(K, p)))
    return step, (tuple(k), tuple(s), tuple(p), tuple(d), ceil_mode)


def _path_step(modules, where):
    """Compose a chain of modules (blocks included) into one _Step, or _GLOBAL."""
    step = _IDENTITY
    for m in modules:
        for _, _, s, _ in _walk(m, where):
            if s is _GLOBAL:
                return _GLOBAL
            step = step.then(s)
    return step


def _walk(module, name):
    """(name, type, step, geometry) for every position-changing layer or block of `module`,
    in registration order. A block that defines `receptive_paths()` is reduced to one step:
    the union of its paths (an empty list of paths: a side branch, skipped)."""
    paths_of = getattr(module, "receptive_paths", None)
    if paths_of is not None:
        paths = paths_of()
        if not paths:
            return
        steps = [_path_step(p, name) for p in paths]
        if any(s is _GLOBAL for s in steps):
            yield name, type(module).__name__, _GLOBAL, None
        else:
            yield name, type(module).__name__, _union(steps, name), None
        return
    leaf = _layer_step(module)
    if leaf is _GLOBAL:
        yield name, type(module).__name__, _GLOBAL, None
        return
    if leaf is not None:
        yield name, type(module).__name__, leaf[0], leaf[1]
        return
    for child_name, child in module._modules.items():
        if child is not None:
            yield from _walk(child, f"{name}.{child_name}" if name else child_name)


def _spec_step(spec, i):
    """A layer given as a number (kernel size, stride 1), a tuple (k, s[, p[, d]]), or a
    dict of Conv2d-style keyword arguments."""
    if isinstance(spec, dict):
        k = pair(spec.get("kernel_size", spec.get("k")))
        s = pair(spec.get("stride", 1))
        return _leaf(k, s, pair(spec.get("padding", 0)), pair(spec.get("dilation", 1)))
    if isinstance(spec, (tuple, list)):
        if not 1 <= len(spec) <= 4:
            raise ValueError(f"receptive_field: layer {i} is {spec!r}; give (kernel, stride, "
                             f"padding, dilation) or a prefix of it")
        k, s, p, d = (list(spec) + [1, 0, 1][len(spec) - 1:])[:4]
        return _leaf(pair(k), pair(s), pair(p), pair(d))
    if isinstance(spec, (int, np.integer)):
        return _leaf(pair(spec), (1, 1), (0, 0), (1, 1))
    raise TypeError(f"receptive_field: layer {i} is a {type(spec).__name__}; give a Module, "
                    f"a kernel size, a (kernel, stride, padding, dilation) tuple or a dict")


@dataclass
class ReceptiveFieldRow:
    """One layer: its effective kernel and stride, and after it the receptive field (in input
    pixels), the jump (input pixels between neighbouring outputs), the centre of the first
    output's field (input pixel index), and the output size when an input size was given."""
    name: str
    type: str
    kernel: tuple
    stride: tuple
    receptive_field: tuple
    jump: tuple
    start: tuple
    output_size: Optional[tuple] = None


def _fmt(t):
    return str(t[0]) if t[0] == t[1] else f"{t[0]}x{t[1]}"


@dataclass
class ReceptiveField:
    """What `receptive_field` returns. `size` is the receptive field after the last layer
    (an int for square fields, else (h, w)); `global_layer` names the first layer that mixes
    every position (a Linear, a global pool), where the walk stops."""
    rows: list
    global_layer: Optional[str] = None

    @property
    def size(self):
        rf = self.rows[-1].receptive_field if self.rows else (1, 1)
        return rf[0] if rf[0] == rf[1] else rf

    @property
    def jump(self):
        j = self.rows[-1].jump if self.rows else (1, 1)
        return j[0] if j[0] == j[1] else j

    def __getitem__(self, name) -> ReceptiveFieldRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"receptive_field: no layer named {name!r}")

    def __int__(self):
        if not isinstance(self.size, int):
            raise TypeError(f"the receptive field is not square: {self.size}")
        return self.size

    def __str__(self):
        header = ["Layer (type)", "kernel", "stride", "receptive field", "jump", "start",
                  "output"]
        table = [[f"{r.name} ({r.type})", _fmt(r.kernel), _fmt(r.stride),
                  _fmt(r.receptive_field), _fmt(r.jump),
                  "/".join(f"{v:g}" for v in dict.fromkeys(r.start)),
                  "-" if r.output_size is None else _fmt(r.output_size)] for r in self.rows]
        widths = [max(len(header[i]), *(len(t[i]) for t in table)) if table else len(header[i])
                  for i in range(len(header))]

        def line(cells):
            return "  ".join([cells[0].ljust(widths[0])]
                             + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])])

        out = [line(header), "-" * len(line(header))] + [line(t) for t in table]
        if self.global_layer:
            out.append(f"then {self.global_layer} sees the whole input")
        return "\n".join(out)

    __repr__ = __str__


def receptive_field(model_or_layers, input_size=None) -> ReceptiveField:
    """The receptive field and jump after every layer of a chain.

    `model_or_layers` is a Module (its convolutions and poolings are taken in the order they
    were registered, which is the order they run for a chain such as LeNet, AlexNet, VGG or
    SRCNN), or a list of layers: Modules, kernel sizes (`[9, 5, 5]` is SRCNN 9-5-5), (kernel,
    stride, padding, dilation) tuples or dicts. Blocks with branches (ResNet's, Inception's,
    DenseNet's ...) describe their paths with a `receptive_paths()` method; their field is the
    union of the paths' fields. The walk stops at the first layer that mixes every position.
    `input_size` (an int or (H, W)) adds each layer's output size.
    """
    if isinstance(model_or_layers, nn.Module):
        items = list(_walk(model_or_layers, ""))
    elif isinstance(model_or_layers, (list, tuple)):
        items = []
        for i, layer in enumerate(model_or_layers):
            if isinstance(layer, nn.Module):
                items += list(_walk(layer, f"{i}"))
            else:
                items.append((f"{i}", "layer") + _spec_step(layer, i))
    else:
        raise TypeError(f"receptive_field: expected a Module or a list of layers, got "
                        f"{type(model_or_layers).__name__}")

    size = pair(input_size) if input_size is not None else None
    r, j, start = (1, 1), (1, 1), (0.0, 0.0)
    rows, global_layer = [], None
    for name, typename, step, geometry in items:
        if step is _GLOBAL:
            global_layer = f"{name} ({typename})"
            break
        r = tuple(ri + (Ki - 1) * ji for ri, Ki, ji in zip(r, step.K, j))
        start = tuple(st + ci * ji for st, ci, ji in zip(start, step.C, j))
        j = tuple(ji * si for ji, si in zip(j, step.S))
        if size is not None:
            size = _output_size(size, step, geometry, name)
        rows.append(ReceptiveFieldRow(name, typename, step.K, step.S, r, j,
                                      tuple(float(s) for s in start), size))
    return ReceptiveField(rows, global_layer)


def _output_size(size, step, geometry, name):
    if geometry is None:
        # a block: its 'same'-padded branches give ceil(n / stride)
        return tuple(math.ceil(n / s) for n, s in zip(size, step.S))
    k, s, p, d, ceil_mode = geometry
    return tuple(conv_output_size(n, ki, si, pi, di, ceil_mode, layer=name)
                 for n, ki, si, pi, di in zip(size, k, s, p, d))
