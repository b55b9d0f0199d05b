"""Receptive fields: how much of the input image one output pixel of a layer sees.

For a chain of layers with kernel k, stride s, padding p, dilation d, starting from one
pixel (r = 1, jump j = 1):

    r_out = r_in + d * (k - 1) * j_in        j_out = j_in * s

so two 3x3 convolutions see 5x5, and SRCNN's 9-5-5 layers see 1 + 8 + 4 + 4 = 17 pixels.
`receptive_field` walks a model (or a list of layer specs) and applies this per layer, per
dimension; branches (Inception, residual blocks) take the union of their paths.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import nn
from .shapes import conv_output_size, pair


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
