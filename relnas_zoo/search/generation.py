"""One generation's bookkeeping: its pairs and population, decoded once; each decision applied to the
search state (Eq. 6 for Omega) and turned into log records; the generation's record at its end."""
from __future__ import annotations

import json
import logging
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..encoding import GENOTYPE_VECTORS
from ..genotypes import Genotype
from ..predictor.pair_decider import PredictedPair
from ..search_log import CandidateRecord, GenerationRecord, IndividualRecord, PairRecord, finite_or_none
from .estimator import CandidateResult, TrainSettings
from .optimizer import PairOutcome, decide
from .state import SearchState

__all__ = ['Generation', 'diversity']

log = logging.getLogger('relnas_zoo.search')


class Generation:
    """The population as this generation evaluates it (the slow-learners move only at its end)."""

    def __init__(self, state: SearchState):
        opt = state.opt
        self.index = opt.generation
        self.pairs: List[Tuple[int, int]] = opt.ask()
        self.vectors = opt.population.copy()
        self.genotypes: List[Genotype] = [GENOTYPE_VECTORS.decode(v) for v in self.vectors]

    def vector(self, k: int) -> List[float]:
        return [round(float(v), 6) for v in self.vectors[k]]

    def apply_evaluated(self, state: SearchState, pair: int, res_i: CandidateResult, res_j: CandidateResult,
                        settings: TrainSettings) -> Tuple[List[CandidateRecord], str]:
        """Eq. 6 for a trained pair (the fast-learner's weights, and the slow-learner's, into Omega); its
        decision and losses into ``state``; the two candidates' log records and a short status."""
        i, j = self.pairs[pair]
        out = decide(i, j, res_i.val_loss, res_j.val_loss)
        results = {i: res_i, j: res_j}
        if out.fast is not None:
            fast, slow = results[out.fast], results[out.slow]
            if slow.weights is not None:
                state.omega.merge(fast.weights, slow.weights)
            else:
                state.omega.merge_single(fast.weights)
        state.pair_log.append(PairRecord(pair, i, j, out.fast, out.slow, finite_or_none(res_i.val_loss),
                                         finite_or_none(res_j.val_loss), self.vector(i), self.vector(j)))
        records = []
        for idx in (i, j):
            r = results[idx]
            role = 'fast' if idx == out.fast else 'slow' if idx == out.slow else 'nan'
            if not r.finite:
                log.warning('generation %d pair %d: individual %d has a non-finite loss (train %.4g, val %.4g); '
                            'it loses its pair and its weights stay out of Omega', self.index, pair, idx,
                            r.train_loss, r.val_loss)
            state.losses[idx] = r.val_loss if r.finite else float('inf')
            records.append(CandidateRecord(
                self.index, pair, idx, role, self.vector(idx), self.genotypes[idx].to_dict(),
                finite_or_none(r.train_loss), r.train_acc, finite_or_none(r.val_loss), r.val_acc,
                round(r.seconds, 3), settings.lr, settings.drop_path))
        state.evaluations += 2
        state.log_lines += 2
        return records, f'{res_i.val_loss:.3f} vs {res_j.val_loss:.3f}'

    def apply_predicted(self, state: SearchState, pair: int, predicted: PredictedPair) -> str:
        """A pair the decider decided: logged as such; no candidate trained, Omega unchanged."""
        i, j = self.pairs[pair]
        state.pair_log.append(PairRecord(pair, i, j, predicted.fast, predicted.slow, None, None, self.vector(i),
                                         self.vector(j), 'predicted', predicted.score_i, predicted.score_j,
                                         predicted.confidence))
        state.saved_evaluations += 2
        return f'predicted ({predicted.confidence:.2f})'

    def outcomes(self, state: SearchState) -> List[PairOutcome]:
        """Every pair's decision, evaluated or predicted, in pair order: what the optimizer is told."""
        by_pair = {p.pair: PairOutcome(p.fast, p.slow) for p in state.pair_log}
        return [by_pair[p] for p in range(len(self.pairs))]

    def record(self, state: SearchState, lr: float, drop_path: float) -> GenerationRecord:
        """The generation's line of generations.jsonl (the population as evaluated)."""
        roles, predicted = {}, set()
        for d in state.pair_log:
            roles.update({d.fast: 'fast', d.slow: 'slow'})
            if d.decided == 'predicted':
                predicted.update((d.i, d.j))
        individuals = [IndividualRecord(k, self.vector(k), self.genotypes[k].to_dict(),
                                        finite_or_none(state.losses[k]), roles.get(k, 'nan'), k not in predicted)
                       for k in range(len(self.vectors))]
        finite = _finite(state.losses)
        opt = state.opt
        return GenerationRecord(
            self.index, list(state.pair_log), individuals, lr=lr, drop_path=drop_path,
            best_individual=min(finite)[1] if finite else None, best_val_loss=min(finite)[0] if finite else None,
            mean_val_loss=float(np.mean([v for v, _ in finite])) if finite else None,
            diversity=diversity(self.vectors, opt.lower, opt.upper, self.genotypes),
            predicted_pairs=sum(d.decided == 'predicted' for d in state.pair_log))


def diversity(population: np.ndarray, lower: Sequence[float], upper: Sequence[float],
              genotypes: Sequence[Genotype]) -> Dict[str, float]:
    """Mean pairwise distance of the vectors (each variable scaled to [0, 1] by its bounds, so the
    figure does not depend on how many choices a variable has) and the number of distinct genotypes."""
    pop = np.asarray(population, dtype=np.float64)
    scaled = (pop - np.asarray(lower)) / (np.asarray(upper) - np.asarray(lower))
    n = len(scaled)
    if n > 1:
        d = np.sqrt(((scaled[:, None, :] - scaled[None, :, :]) ** 2).sum(-1))
        mean_dist = float(d[np.triu_indices(n, 1)].mean())
    else:
        mean_dist = 0.0
    distinct = len({json.dumps(g.to_dict(), sort_keys=True) for g in genotypes})
    return dict(mean_pairwise_distance=round(mean_dist, 6), distinct_genotypes=distinct)


def _finite(losses: Sequence[Optional[float]]) -> List[Tuple[float, int]]:
    return [(v, k) for k, v in enumerate(losses) if v is not None and math.isfinite(v)]
