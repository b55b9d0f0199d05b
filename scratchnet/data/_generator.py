"""Which random generator a data object draws from.

Every random draw in `scratchnet.data` (shuffling, splits, augmentation) comes from either
the generator the caller passed or the library's seeded one, so `scratchnet.manual_seed(n)`
makes a run reproducible.
"""
from __future__ import annotations

import numpy as np

from .. import random as _random


def own_generator(generator, who: str):
    """What an object keeps from its `generator=` argument.

    An int seed becomes a Generator once, here: turning it into a fresh Generator at every
    draw would repeat the same "random" numbers each epoch. None stays None, so the library's
    generator is looked up at draw time and a later `manual_seed` still takes effect.
    """
    if generator is None or isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (bool, np.bool_)):
        raise TypeError(f"{who}: generator must be None, an int seed or a "
                        f"numpy.random.Generator, got {generator!r}")
    if isinstance(generator, (int, np.integer)):
        if generator < 0:
            raise ValueError(f"{who}: a seed must be non-negative, got {generator}")
        return np.random.default_rng(int(generator))
    raise TypeError(f"{who}: generator must be None, an int seed or a numpy.random.Generator, "
                    f"got {type(generator).__name__}")


def draw_from(generator) -> np.random.Generator:
    """The generator to draw from now: the object's own, else the library's current one."""
    return _random.get_generator(generator)
