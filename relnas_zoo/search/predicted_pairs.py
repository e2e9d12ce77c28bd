"""A ReNAS predictor that decides slow-fast pairs of the real search without training them.

The rule (config ``predictor: renas``): from generation ``predictor_warmup`` on, at the start of every
generation a predictor (``relnas_zoo.predictor``, the genotype space's feature tensor) is trained from
scratch on every pair decision evaluated so far (fast beat slow, as written to ``generations.jsonl``;
predicted decisions are never training data, or the predictor would learn its own guesses). It scores
the population; a pair whose two scores differ by at least ``predictor_threshold`` (in units of the
predictor's score spread over its training genotypes) is decided by the scores: neither candidate is
trained, Omega takes no weights from the pair, and the slow-learner moves towards the predicted
fast-learner as usual. Every other pair is trained and decided by its validation losses.

The plan for a generation is made once, before its first pair, and kept in the checkpoint with the
predictor's weights and training pairs, so a resumed run decides exactly as an uninterrupted one.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..genotypes import Genotype

__all__ = ['PairPredictor', 'PairPlan']

#: a pair's plan: None (train both) or the predicted decision
PairPlan = Optional[Dict[str, Any]]


class PairPredictor:
    def __init__(self, seed: int, warmup: int, threshold: float, epochs: int, batch_size: int = 1024):
        self.seed, self.warmup, self.threshold, self.epochs = seed, warmup, threshold, epochs
        self.batch_size = batch_size  # evaluated pairs per optimizer step
        self.genotypes: List[Genotype] = []
        self._index: Dict[Genotype, int] = {}
        self.pairs: List[Tuple[int, int]] = []       # (fast, slow) indices into genotypes
        self.predictor = None                        # RelativisticPredictor of the latest plan
        self._tensors: Dict[Genotype, np.ndarray] = {}  # feature tensors, recomputed after a resume

    def _id(self, g: Genotype) -> int:
        if g not in self._index:
            self._index[g] = len(self.genotypes)
            self.genotypes.append(g)
        return self._index[g]

    def add_pairs(self, pairs: Sequence[Tuple[Genotype, Genotype]]) -> None:
        """Evaluated decisions, better genotype first (pairs of one genotype teach nothing and are skipped)."""
        for fast, slow in pairs:
            if fast != slow:
                self.pairs.append((self._id(fast), self._id(slow)))

    def _encode(self, genotypes: Sequence[Genotype]) -> np.ndarray:
        from ..predictor.genotype_space import encode
        new = [g for g in dict.fromkeys(genotypes) if g not in self._tensors]
        if new:
            for g, t in zip(new, encode(new)):
                self._tensors[g] = t
        return np.stack([self._tensors[g] for g in genotypes])

    def plan(self, generation: int, genotypes: Sequence[Genotype],
             pairs: Sequence[Tuple[int, int]]) -> List[PairPlan]:
        """Train on the pairs so far and decide the confident pairs of this generation (see module doc)."""
        if generation < self.warmup or not self.pairs:
            self.predictor = None
            return [None] * len(pairs)
        from ..predictor.predictor import RelativisticPredictor, TrainConfig
        x = self._encode(self.genotypes)
        seed = int(np.random.SeedSequence([self.seed, generation, 0x9E7A5]).generate_state(1)[0])
        pred = RelativisticPredictor(x.shape[1], x.shape[2], 0, TrainConfig(epochs=self.epochs, batch_size=self.batch_size, seed=seed),
                                     meta=dict(space='relnas', features='renas', generation=generation,
                                               training_pairs=len(self.pairs)))
        self.predictor = pred.fit(x, pairs=np.asarray(self.pairs, dtype=np.int64))
        scores = pred.predict(self._encode(list(genotypes)))
        out: List[PairPlan] = []
        for i, j in pairs:
            gap = float(abs(scores[i] - scores[j]))
            if genotypes[i] == genotypes[j] or gap < self.threshold:
                out.append(None)
                continue
            fast, slow = (i, j) if scores[i] >= scores[j] else (j, i)
            out.append(dict(fast=fast, slow=slow, score_i=round(float(scores[i]), 6),
                            score_j=round(float(scores[j]), 6), confidence=round(gap, 6)))
        return out

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> Dict[str, Any]:
        return dict(genotypes=json.dumps([g.to_dict() for g in self.genotypes]),
                    pairs=[list(p) for p in self.pairs],
                    predictor=None if self.predictor is None else self.predictor.state_dict())

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        from ..predictor.predictor import RelativisticPredictor
        self.genotypes, self._index = [], {}
        for d in json.loads(state['genotypes']):
            self._id(Genotype.from_dict(d))
        self.pairs = [(int(a), int(b)) for a, b in state['pairs']]
        self.predictor = (None if state['predictor'] is None else
                          RelativisticPredictor.from_state_dict(state['predictor'], source='search checkpoint'))
