"""Counting a network: `summary` (parameters, multiply-accumulates, shapes, memory). How
much of the image each layer sees is `receptive_field`, in receptive.py.

Parameters of a layer, as the decks count them:

    Conv2d(C -> K, kh x kw, groups g)   weights K * (C/g) * kh * kw,   biases K
    Linear(n -> m)                      weights m * n,                 biases m
    BatchNorm2d(C)                      weights C (the scale gamma),   biases C (the shift beta)

Multiply-accumulates (MACs) of one forward pass: every output value of a convolution costs
(C/g) * kh * kw of them, every output of a linear layer n. Pooling, normalisation and
activations cost a few operations per value and are not counted, as in the papers' tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import nn
from .autograd import no_grad
from .autograd.tensor import Tensor
from .dtypes import get_default_dtype


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
