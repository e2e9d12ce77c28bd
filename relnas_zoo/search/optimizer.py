"""Slow-fast learning (paper Algorithm 1, Eq. 2 and 4) as an ask/tell optimizer over any box.

Nothing here knows about networks: a population of real vectors inside ``[lower, upper]`` is paired at
random each generation; in each pair the vector with the lower loss is the fast-learner and the other,
the slow-learner, moves towards it with momentum:

    v_s <- r1 * v_s + r2 * (a_f - a_s);   a_s <- clip(a_s + v_s, lower, upper)

with ``r1, r2 ~ U[0, 1]`` drawn per variable. Fast-learners do not move; everybody survives.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

__all__ = ['SlowFastOptimizer', 'PairOutcome', 'decide', 'outcomes_from_losses']


class PairOutcome(NamedTuple):
    """Who won a pair (indices into the population); ``fast`` is None when both losses were non-finite."""
    fast: Optional[int]
    slow: Optional[int]


def outcomes_from_losses(pairs: Sequence[Tuple[int, int]], losses: Sequence[float]) -> List[PairOutcome]:
    """Every pair decided by per-individual ``losses`` (:func:`decide`)."""
    return [decide(i, j, float(losses[i]), float(losses[j])) for i, j in pairs]


def decide(i: int, j: int, loss_i: float, loss_j: float) -> PairOutcome:
    """Lower loss wins; a non-finite loss always loses; a tie goes to the first of the pair."""
    ok_i, ok_j = math.isfinite(loss_i), math.isfinite(loss_j)
    if not ok_i and not ok_j:
        return PairOutcome(None, None)
    if not ok_j or (ok_i and loss_i <= loss_j):
        return PairOutcome(i, j)
    return PairOutcome(j, i)


class SlowFastOptimizer:
    """Ask/tell slow-fast learning.

    Args:
        lower, upper: bounds of every variable.
        population_size: N, even.
        seed: seeds the initial population and every generation's pairing and coefficients; a
            generation's random numbers depend only on (seed, generation), so a resumed run repeats an
            uninterrupted one exactly.
        population: optional initial population (N, D) instead of a uniform draw.
    """

    def __init__(self, lower: Sequence[float], upper: Sequence[float], population_size: int, seed: int = 0,
                 population: Optional[np.ndarray] = None):
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)
        if self.lower.shape != self.upper.shape or self.lower.ndim != 1:
            raise ValueError('lower and upper must be 1-D arrays of the same length')
        if not (self.lower < self.upper).all():
            raise ValueError('every lower bound must be below its upper bound')
        if population_size < 2 or population_size % 2:
            raise ValueError(f'population_size must be an even number >= 2, got {population_size}')
        self.population_size = population_size
        self.seed = seed
        self.generation = 0
        if population is None:
            rng = np.random.default_rng([seed, 0x5EED])
            population = rng.uniform(self.lower, self.upper, size=(population_size, self.dim))
        population = np.asarray(population, dtype=np.float64)
        if population.shape != (population_size, self.dim):
            raise ValueError(f'population must have shape {(population_size, self.dim)}, got {population.shape}')
        self.population = np.clip(population, self.lower, self.upper)
        self.velocity = np.zeros_like(self.population)

    @property
    def dim(self) -> int:
        return self.lower.size

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, 1, self.generation])

    def ask(self) -> List[Tuple[int, int]]:
        """This generation's random pairs (indices into :attr:`population`); evaluate every member."""
        order = self._rng().permutation(self.population_size)
        return [(int(order[2 * p]), int(order[2 * p + 1])) for p in range(self.population_size // 2)]

    def tell(self, pairs: Sequence[Tuple[int, int]], outcomes: Sequence[PairOutcome]) -> List[PairOutcome]:
        """Move each pair's slow-learner towards its fast-learner (a pair whose ``fast`` is None moves
        nobody); advance to the next generation. ``outcomes``: one decision per pair, however it was made
        (losses through :func:`decide`, or a predictor)."""
        if len(outcomes) != len(pairs):
            raise ValueError(f'expected {len(pairs)} pair outcomes, got {len(outcomes)}')
        rng = self._rng()
        rng.permutation(self.population_size)  # consumed by ask(): keep the stream aligned
        for (i, j), out in zip(pairs, outcomes):
            if out.fast is not None and {out.fast, out.slow} != {i, j}:
                raise ValueError(f'outcome {tuple(out)} does not belong to the pair {(i, j)}')
            r1 = rng.uniform(size=self.dim)
            r2 = rng.uniform(size=self.dim)
            if out.fast is not None:
                f, s = out.fast, out.slow
                self.velocity[s] = r1 * self.velocity[s] + r2 * (self.population[f] - self.population[s])
                self.population[s] = np.clip(self.population[s] + self.velocity[s], self.lower, self.upper)
        self.generation += 1
        return list(outcomes)

    def state_dict(self) -> Dict[str, Any]:
        return dict(lower=self.lower.tolist(), upper=self.upper.tolist(), seed=self.seed,
                    generation=self.generation, population=self.population.tolist(),
                    velocity=self.velocity.tolist())

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if np.asarray(state['lower']).shape != self.lower.shape or len(state['population']) != self.population_size:
            raise ValueError('optimizer state is for a different search space or population size')
        self.seed = int(state['seed'])
        self.generation = int(state['generation'])
        self.population = np.asarray(state['population'], dtype=np.float64)
        self.velocity = np.asarray(state['velocity'], dtype=np.float64)
