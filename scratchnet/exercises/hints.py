"""Structural hints: name a mistake from the pattern of which cases a gradient gets right.

A pre-written wrong variant only recognises the one mistake it encodes. These hints look at
the structure instead: right where windows do not overlap but wrong where they do means the
gradient is assigned instead of accumulated, however the student wrote it; right for one
example but wrong for a batch means something is not summed over the batch; a gradient that
does not change when dout does ignores the chain rule. Each exercise lists its hints; each
hint is tested with a realistic wrong solution (tests/test_exercise_hints.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .text import Text


@dataclass
class Hint:
    key: str             # "max_pool.accumulate": what the tests refer to
    grads: tuple         # the gradients it speaks about, e.g. ("x",)
    test: Callable       # Evidence -> bool
    text: Text


class Evidence:
    """The student's gradients on every run, next to autograd's."""

    def __init__(self, ex, plan, grads_by_run, rtol, atol):
        self.ex, self.rtol, self.atol = ex, rtol, atol
        self.entries = []  # (run, {gname: (got, want)}) for runs whose backward returned
        for run, grads in zip(plan, grads_by_run):
            if grads is not None:
                self.entries.append((run, {g: (got, want) for g, got, want
                                           in zip(ex.grad_inputs, grads, run.ref_grads)}))

    def right(self, pair):
        got, want = pair
        return got.shape == want.shape and np.allclose(got, want, rtol=self.rtol,
                                                       atol=self.atol)

    def pairs(self, grads, where=lambda run: True):
        """(run, got, want) for each run selected by `where` and each gradient in `grads`."""
        return [(run, *g[name]) for run, g in self.entries if where(run)
                for name in grads if name in g]


def contrast(key, grads, good, bad, text):
    """Right on every run where good(run), wrong (with the right shape: a wrong shape has
    hints of its own) on some run where bad(run)."""
    def test(ev):
        goods = ev.pairs(grads, good)
        bads = ev.pairs(grads, bad)
        return (bool(goods) and all(ev.right((g, w)) for _, g, w in goods)
                and any(g.shape == w.shape and not ev.right((g, w)) for _, g, w in bads))
    return Hint(key, tuple(grads), test, text)


def relation(key, grads, rel, text):
    """On some run the gradient is wrong and rel(run, got, want) holds."""
    def test(ev):
        return any(not ev.right((g, w)) and rel(run, g, w) for run, g, w in ev.pairs(grads))
    return Hint(key, tuple(grads), test, text)


def ignores_dout(key, grads, text):
    """Two runs that differ only in the scale of dout get the same (wrong) gradient."""
    def test(ev):
        for run, g, w in ev.pairs(grads, lambda r: r.dout_scale != 1.0):
            for base, g0, w0 in ev.pairs(grads, lambda r: r.dout_scale == 1.0
                                         and r.seed == run.seed):
                if (g0.shape == g.shape and np.allclose(g, g0, rtol=1e-6, atol=1e-12)
                        and not np.allclose(w, w0)):
                    return True
        return False
    return Hint(key, tuple(grads), test, text)


def same(a, b):
    """Equal shapes and values (to the checker's default tolerance)."""
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-8)


def right_where(mask, got, want):
    """Right on the elements where mask holds, wrong on some element where it does not."""
    if got.shape != want.shape:
        return False
    ok = np.isclose(got, want, rtol=1e-6, atol=1e-8)
    return bool(ok[mask].all() and not ok[~mask].all())


def batch_of(run):
    return run.arrays[0].shape[0]


def scaled_by(factor, got, want):
    """got == factor * want, with want not all zero."""
    return got.shape == want.shape and np.any(want) and np.allclose(got, factor * want,
                                                                   rtol=1e-6, atol=1e-9)
