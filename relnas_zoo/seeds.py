"""Seeds derived from a run's seed and a position, so that every random stream can be recreated."""
from __future__ import annotations

import numpy as np

__all__ = ['derive_seed']


def derive_seed(*parts: int) -> int:
    """A 32-bit seed from integers (a run's seed, then e.g. generation and individual): the same parts give
    the same seed in any process, and nearby parts give unrelated streams (numpy's SeedSequence)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])
