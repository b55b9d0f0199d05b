"""Gradient-check exercises: the student writes a backward pass, scratchnet checks it.

Each exercise has a template in `lessons/exercises/<name>.py` (its docstring in English and
Korean) with a finished `forward` and a `backward` to write, in plain NumPy (as CS231n and the
textbooks do). Eight follow the first half of the course (linear, ReLU, softmax cross-entropy,
convolution with loops, max pooling, batch norm, max unpooling, transposed convolution) and ten
its applications (smooth L1, pixelwise cross-entropy, bilinear upsampling, RoI pool, RoI align,
the triplet, style, Dice and GAN losses, YOLO's coordinate loss). `check(name, path)` runs the
student's file in a child process with a time limit and an output cap, on cases chosen to
expose the classic mistakes, and:

1. compares `forward` with scratchnet's own op (itself checked against PyTorch);
2. compares every gradient `backward` returns with autograd's, for a random upstream
   gradient (not all-ones, which hides some bugs);
3. runs `gradcheck` (float64 central differences, random projection) on the student's pair;
4. names the mistake from the structure of the cases it gets wrong (hints.py): right without
   overlapping windows but wrong with them, right for one example but not for a batch, off by
   a constant factor or the sign, right only where the input is positive, a transposed shape,
   and each exercise's own; in Korean or English.

    scratchnet exercise list
    scratchnet exercise check relu [--file my_relu.py] [--lang ko|en] [--timeout 20]
"""
from __future__ import annotations

from .checker import CheckReport, check, load_module
from .registry import EXERCISES

__all__ = ["EXERCISES", "check", "load_module", "CheckReport"]
