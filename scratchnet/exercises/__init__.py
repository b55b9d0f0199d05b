"""Gradient-check exercises: the student writes a backward pass, scratchnet checks it.

Each exercise has a template in `lessons/exercises/<name>.py` with a finished `forward` and a
`backward` to write, in plain NumPy (as CS231n and the textbooks do). `check(name, path)`
loads the student's file and, on several shapes chosen to expose the classic mistakes
(overlapping windows, odd sizes, a stride that does not divide, batches > 1):

1. compares `forward` with scratchnet's own op (itself checked against PyTorch);
2. compares every gradient `backward` returns with autograd's, for a random upstream
   gradient (not all-ones, which hides some bugs);
3. runs `gradcheck` (float64 central differences, random projection) on the student's pair;
4. when a gradient is wrong, looks for the classic mistakes by comparing it with known-wrong
   variants (assignment instead of accumulation, a missing transpose, a gradient not summed
   over the batch, ...) and prints the matching hint.

    scratchnet exercise list
    scratchnet exercise check relu [--file my_relu.py]
"""
from __future__ import annotations

from .checker import CheckReport, check, load_module
from .specs import EXERCISES

__all__ = ["EXERCISES", "check", "load_module", "CheckReport"]
