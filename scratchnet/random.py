"""One seeded source of randomness for the whole library.

Every random draw in scratchnet (randn, weight initialisation, dropout masks, data shuffling,
augmentation) goes through `default_generator`, so `scratchnet.manual_seed(n)` makes a run
reproducible end to end.
"""
from __future__ import annotations

import numpy as np

default_generator = np.random.default_rng(0)
_seed = 0


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's generator; returns it."""
    global default_generator, _seed
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: the seed must be a non-negative integer, got {seed!r}")
    _seed = int(seed)
    default_generator = np.random.default_rng(_seed)
    return default_generator


def initial_seed() -> int:
    return _seed


def get_generator(generator=None) -> np.random.Generator:
    """`generator` if one is given (a Generator or an int seed), else the library's."""
    if generator is None:
        return default_generator
    if isinstance(generator, (int, np.integer)):
        return np.random.default_rng(int(generator))
    return generator
