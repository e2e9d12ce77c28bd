"""Deciding slow-fast pairs with a ReNAS predictor, without evaluating them: the one decider that the
real search (``predictor: renas``) and the searches over a benchmark table both use.

It learns only from pair decisions that were evaluated (better architecture first); its own guesses are
never training data, or it would learn them. It is refitted from scratch once ``retrain_every`` new
evaluated pairs have come in since its last fit (a search's generation adds N/2). A pair is decided when
the two predicted scores differ by at least ``threshold``, in units of the predictor's score spread over
its training architectures; every other pair is left to be evaluated.

It may start from a prior: a built-in table of the space (``prior``, e.g. NAS-Bench-301's CIFAR-10
accuracies for the DARTS space). Every fit then learns the table's order and the evaluated pairs at once
(the two losses added), so its first decisions come from hundreds of trained architectures rather than
from the search's first few pairs, and the search's own pairs pull it towards what the search measures.

The recipe (epochs, batch size, feature set) is the feature set's in the space (:meth:`Space.recipe_for`;
the rest of it, ensemble size and weight decay, follows the feature set); every value is a field of
:class:`DeciderConfig`. The fitted predictor, the pairs and the config travel in ``state_dict``, so a
resumed search decides exactly as an uninterrupted one.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Dict, Hashable, List, Optional, Sequence, Tuple

import numpy as np

from ..seeds import derive_seed
from .predictor import RelativisticPredictor, FitConfig
from .spaces import GRAPH_RECIPE, Space

__all__ = ['DeciderConfig', 'PredictedPair', 'PairDecider']


@dataclass
class DeciderConfig:
    threshold: float = 1.0     # decide when the scores differ by this many score standard deviations
    epochs: int = GRAPH_RECIPE.epochs
    batch_size: int = GRAPH_RECIPE.batch_size  # evaluated pairs per optimizer step
    features: str = GRAPH_RECIPE.features      # a feature set of the space (spaces.FEATURE_SETS)
    retrain_every: int = 1     # refit once this many new evaluated pairs have come in
    seed: int = 0
    prior: str = 'none'        # none, or a built-in table of the space learnt beside the pairs


@dataclass
class PredictedPair:
    """A pair decided by the scores: indices of the fast (predicted better) and slow member."""
    fast: int
    slow: int
    score_i: float
    score_j: float
    confidence: float


class PairDecider:
    """``prior_table``: (architectures, values; higher is better) to learn beside the pairs instead of the
    built-in table ``config.prior`` names (a benchmark holding some architectures out, for instance)."""

    def __init__(self, space: Space, config: DeciderConfig,
                 prior_table: Optional[Tuple[Sequence[Hashable], Sequence[float]]] = None):
        space.check_features(config.features)
        self.space, self.config = space, config
        self._set_prior(prior_table)
        self.archs: List[Hashable] = []
        self._index: Dict[Hashable, int] = {}
        self.pairs: List[Tuple[int, int]] = []     # (better, worse) indices into archs
        self.predictor: Optional[RelativisticPredictor] = None
        self.trained_on = 0                         # len(pairs) at the last fit
        self.fits = 0
        self._cache: Dict[Hashable, Tuple[np.ndarray, np.ndarray]] = {}  # recomputed after a resume

    def _set_prior(self, prior_table: Optional[Tuple[Sequence[Hashable], Sequence[float]]] = None) -> None:
        if prior_table is None and self.config.prior != 'none':
            table = self.space.builtin_table(self.config.prior)
            prior_table = table.with_metric(self.space.default_metric(self.config.prior))
        self.prior_archs = list(prior_table[0]) if prior_table is not None else []
        self.prior_values = np.asarray(prior_table[1] if prior_table is not None else [], dtype=np.float64)

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
        if self.predictor is None:
            return bool(self.pairs) or bool(self.prior_archs)
        return len(self.pairs) - self.trained_on >= self.config.retrain_every

    def fit(self, *seed_key: int, **meta: Any) -> bool:
        """Refit on every evaluated pair so far when due (see the module doc); the fit's seed is derived
        from ``config.seed`` and ``seed_key`` (e.g. the generation); ``meta`` goes into the predictor's
        metadata. Whether it refitted."""
        if not self.refit_due():
            return False
        c = self.config
        archs = self.prior_archs + self.archs
        x, e = self._model_inputs(archs)
        train = FitConfig(**self.space.fit_settings(c.features, epochs=c.epochs, batch_size=c.batch_size,
                                                    seed=derive_seed(c.seed, *seed_key)))
        pred = RelativisticPredictor(x.shape[1], x.shape[2], e.shape[1], train,
                                     meta=dict(space=self.space.name, features=c.features, prior=c.prior,
                                               training_pairs=len(self.pairs), **meta))
        targets = pairs = None
        if self.prior_archs:
            targets = np.concatenate([self.prior_values, np.full(len(self.archs), np.nan)])
        if self.pairs:
            pairs = np.asarray(self.pairs, dtype=np.int64) + len(self.prior_archs)
        self.predictor = pred.fit(x, e, targets=targets, pairs=pairs)
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
        """Restore a decider, its settings included: a run saved under other defaults (an earlier recipe)
        goes on deciding as it did."""
        if 'config' in state:
            saved = DeciderConfig(**state['config'])  # a field an older state lacks takes its default
            if saved != self.config:
                prior_changed = saved.prior != self.config.prior
                self.config = saved
                if prior_changed:
                    self._set_prior()
        self.archs, self._index = [], {}
        for d in json.loads(state['genotypes']):
            self._id(arch_from_json(d))
        self.pairs = [(int(a), int(b)) for a, b in state['pairs']]
        self.trained_on = int(state.get('trained_on', 0))
        self.fits = int(state.get('fits', 0))
        self.predictor = (None if state['predictor'] is None else
                          RelativisticPredictor.from_state_dict(state['predictor'], source='search checkpoint'))
