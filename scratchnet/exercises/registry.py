"""Every exercise by name: the first half of the course (specs.py) and the application half
(applications.py), in the order `scratchnet exercise list` shows them."""
from __future__ import annotations

from .applications import APPLICATION_EXERCISES
from .specs import FIRST_HALF

EXERCISES = {**FIRST_HALF, **{e.name: e for e in APPLICATION_EXERCISES}}
