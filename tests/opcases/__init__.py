"""Op test cases shared by the gradient checks, the stored-reference comparisons and the live
PyTorch comparisons.

Each module in this package defines `CASES`, a list of `Case`. A case names the registered op
it exercises, how scratchnet computes it (`ours`), how PyTorch computes it (`theirs`, used only
by `tests/reference/generate.py` and the live tests), and its inputs. Adding a case here makes
it part of all three test suites at once.
"""
from __future__ import annotations

import importlib
import pkgutil
import zlib
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class Inp:
    """One input: its shape, how to draw it, and whether gradients flow to it."""
    shape: tuple
    kind: str = "normal"   # normal | positive | uniform | int:<low>:<high> | const:<v> | neg
    grad: bool = True

    def draw(self, rng):
        if self.kind == "normal":
            return rng.standard_normal(self.shape)
        if self.kind == "positive":
            return rng.uniform(0.5, 2.0, self.shape)
        if self.kind == "uniform":
            return rng.uniform(-1.0, 1.0, self.shape)
        if self.kind == "neg":
            return -rng.uniform(0.5, 2.0, self.shape)
        if self.kind.startswith("int:"):
            _, lo, hi = self.kind.split(":")
            return rng.integers(int(lo), int(hi), self.shape).astype(np.int64)
        if self.kind.startswith("const:"):
            return np.full(self.shape, float(self.kind.split(":")[1]))
        raise ValueError(f"unknown input kind {self.kind!r}")


@dataclass(frozen=True)
class Case:
    name: str                      # unique; the key in the reference files
    op: str                        # registry name of the op this case checks
    ours: Callable                 # ours(*tensors) -> Tensor or tuple of Tensors
    inputs: Sequence = ()          # list of Inp, or a callable rng -> list of (array, grad)
    theirs: Optional[Callable] = None   # theirs(torch, *tensors) -> torch tensor(s)
    gradcheck: bool = True         # False for non-differentiable ops
    atol: float = 1e-5             # gradcheck tolerances (float64)
    rtol: float = 1e-3
    out_dtype: Optional[str] = None   # when the op changes dtype on purpose (casts)
    tags: tuple = field(default_factory=tuple)

    def make_inputs(self):
        """Deterministic inputs: [(float64-or-int array, requires_grad), ...]."""
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        if callable(self.inputs):
            return [(np.asarray(a), bool(g)) for a, g in self.inputs(rng)]
        return [(spec.draw(rng), spec.grad and spec.kind[:4] != "int:") for spec in self.inputs]


def all_cases():
    cases = []
    for mod in pkgutil.iter_modules(__path__):
        m = importlib.import_module(f"{__name__}.{mod.name}")
        for c in getattr(m, "CASES", []):
            cases.append((mod.name, c))
    names = [c.name for _, c in cases]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"duplicate case names: {sorted(dup)}")
    return cases
