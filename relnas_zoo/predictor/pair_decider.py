"""Deciding slow-fast pairs with a ReNAS predictor, without evaluating them: the one decider that the
real search (``predictor: renas``) and the searches over a benchmark table both use.

It learns only from pair decisions that were evaluated (better architecture first); its own guesses are
never training data, or it would learn them. It is refitted from scratch once ``retrain_every`` new
evaluated pairs have come in since its last fit (a search's generation adds N/2). A pair is decided when
the two predicted scores differ by at least ``threshold``, in units of the predictor's score spread over
its training architectures; every other pair is left to be evaluated.

The recipe (epochs, batch size, feature set) is the space's (:attr:`Space.decider_recipe`); every value
is a field of :class:`DeciderConfig`. The fitted predictor and the pairs travel in ``state_dict``, so a
resumed search decides exactly as an uninterrupted one.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Dict, Hashable, List, Optional, Sequence, Tuple

import numpy as np

from ..seeds import derive_seed
from .predictor import RelativisticPredictor, FitConfig
from .spaces import Space

__all__ = ['DeciderConfig', 'PredictedPair', 'PairDecider']


@dataclass
class DeciderConfig:
    threshold: float = 1.0     # decide when the scores differ by this many score standard deviations
    epochs: int = 100
    batch_size: int = 1024     # evaluated pairs per optimizer step
    features: str = 'renas'    # a feature set of the space (spaces.FEATURE_SETS)
    retrain_every: int = 1     # refit once this many new evaluated pairs have come in
    seed: int = 0


@dataclass
class PredictedPair:
    """A pair decided by the scores: indices of the fast (predicted better) and slow member."""
    fast: int
    slow: int
    score_i: float
    score_j: float
    confidence: float


class PairDecider:
    def __init__(self, space: Space, config: DeciderConfig):
        space.check_features(config.features)
        self.space, self.config = space, config
        self.archs: List[Hashable] = []
        self._index: Dict[Hashable, int] = {}
        self.pairs: List[Tuple[int, int]] = []     # (better, worse) indices into archs
        self.predictor: Optional[RelativisticPredictor] = None
        self.trained_on = 0                         # len(pairs) at the last fit
        self.fits = 0
        self._cache: Dict[Hashable, Tuple[np.ndarray, np.ndarray]] = {}  # recomputed after a resume

    def _id(self, arch: Hashable) -> int:
        if arch not in self._index:
            self._index[arch] = len(self.archs)
            self.archs.append(arch)
        return self._index[arch]

    def add_pairs(self, pairs: Sequence[Tuple[Hashable, Hashable]]) -> None:
        """Evaluated decisions, better architecture first (a pair of one architecture teaches nothing)."""
        for better, worse in pairs:
            if better != worse:
                self.pairs.append((self._id(better), self._id(worse)))

    def _model_inputs(self, archs: Sequence[Hashable]) -> Tuple[np.ndarray, np.ndarray]:
        new = [a for a in dict.fromkeys(archs) if a not in self._cache]
        if new:
            x = self.space.feature_tensors(new, self.config.features)
            e = self.space.features(new, self.config.features)
            for a, xi, ei in zip(new, x, e):
                self._cache[a] = (xi, ei)
        return (np.stack([self._cache[a][0] for a in archs]), np.stack([self._cache[a][1] for a in archs]))

    def refit_due(self) -> bool:
        return bool(self.pairs) and (self.predictor is None or
                                     len(self.pairs) - self.trained_on >= self.config.retrain_every)

    def fit(self, *seed_key: int, **meta: Any) -> bool:
        """Refit on every evaluated pair so far when due (see the module doc); the fit's seed is derived
        from ``config.seed`` and ``seed_key`` (e.g. the generation); ``meta`` goes into the predictor's
        metadata. Whether it refitted."""
        if not self.refit_due():
            return False
        c = self.config
        x, e = self._model_inputs(self.archs)
        train = FitConfig(epochs=c.epochs, batch_size=c.batch_size, seed=derive_seed(c.seed, *seed_key))
        pred = RelativisticPredictor(x.shape[1], x.shape[2], e.shape[1], train,
                                     meta=dict(space=self.space.name, features=c.features,
                                               training_pairs=len(self.pairs), **meta))
        self.predictor = pred.fit(x, e, pairs=np.asarray(self.pairs, dtype=np.int64))
        self.trained_on = len(self.pairs)
        self.fits += 1
        return True

    def scores(self, archs: Sequence[Hashable]) -> np.ndarray:
        return self.predictor.predict(*self._model_inputs(list(archs)))

    def decide(self, archs: Sequence[Hashable], pairs: Sequence[Tuple[int, int]]) -> List[Optional[PredictedPair]]:
        """For each pair of indices into ``archs``: the predicted decision, or None (evaluate it)."""
        if self.predictor is None:
            return [None] * len(pairs)
        scores = self.scores(archs)
        out: List[Optional[PredictedPair]] = []
        for i, j in pairs:
            gap = float(abs(scores[i] - scores[j]))
            if archs[i] == archs[j] or gap < self.config.threshold:
                out.append(None)
                continue
            fast, slow = (i, j) if scores[i] >= scores[j] else (j, i)
            out.append(PredictedPair(fast, slow, round(float(scores[i]), 6), round(float(scores[j]), 6),
                                     round(gap, 6)))
        return out

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self, arch_to_json=lambda a: a) -> Dict[str, Any]:
        return dict(config=asdict(self.config), genotypes=json.dumps([arch_to_json(a) for a in self.archs]),
                    pairs=[list(p) for p in self.pairs], trained_on=self.trained_on, fits=self.fits,
                    predictor=None if self.predictor is None else self.predictor.state_dict())

    def load_state_dict(self, state: Dict[str, Any], arch_from_json=lambda d: d) -> None:
        self.archs, self._index = [], {}
        for d in json.loads(state['genotypes']):
            self._id(arch_from_json(d))
        self.pairs = [(int(a), int(b)) for a, b in state['pairs']]
        self.trained_on = int(state.get('trained_on', 0))
        self.fits = int(state.get('fits', 0))
        self.predictor = (None if state['predictor'] is None else
                          RelativisticPredictor.from_state_dict(state['predictor'], source='search checkpoint'))
