"""What a search leaves for its user: the chosen genotype, the ranked population, plots refreshed every
generation, and TensorBoard scalars."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..atomic import atomic_write_json
from ..encoding import decode
from ..genotypes import Genotype, save_genotype
from ..search_log import GenerationRecord, finite_or_none, read_generations
from ..tensorboard import open_writer
from .config import SearchConfig
from .state import SearchState

__all__ = ['SearchResult', 'ranking', 'write_outputs', 'refresh_plots', 'GenerationScalars']

log = logging.getLogger('relnas_zoo.search')


@dataclass
class SearchResult:
    out_dir: Path
    genotype_path: Path
    best_individual: int
    best_val_loss: float
    evaluations: int
    seconds: float
    saved_evaluations: int = 0  # candidates whose pair a predictor decided (predictor: renas)
    already_finished: bool = False  # a resumed run that had nothing left to do


def ranking(cfg: SearchConfig, state: SearchState) -> Tuple[List[Optional[float]], str]:
    """(losses used to choose, what they are): the final ranking's, or the last generation's."""
    if cfg.final_ranking:
        return [None if r is None else r['val_loss'] for r in state.final], 'final_ranking'
    return state.history[-1], 'last_generation'


def refresh_plots(cfg: SearchConfig, out: Path, state: SearchState, last: Optional[GenerationRecord] = None,
                  genotype: Optional[Genotype] = None, title: str = '') -> None:
    """losses.png, diversity.png and cells.png (``genotype``, else the best of ``last``, the generation
    just logged), rewritten every generation."""
    if not (cfg.plots and state.history):
        return
    try:
        from ..plot import plot_genotype
        from .plots import plot_diversity, plot_loss_trajectories
    except ImportError as e:
        log.warning('skipping plots: %s', e)
        return
    plot_loss_trajectories(state.history, out / 'losses.png')
    plot_diversity(read_generations(out), out / 'diversity.png')
    if genotype is None:
        if last is None or last.best_individual is None:
            return
        genotype = last.best_genotype()
        title = f'best of generation {last.generation} (val loss {last.best_val_loss:.3f})'
    plot_genotype(genotype, out / 'cells.png', title=title)


def write_outputs(cfg: SearchConfig, out: Path, state: SearchState, main: bool) -> SearchResult:
    """genotype.json (the best of the ranking), population.json and the final plots; the result."""
    chosen, basis = ranking(cfg, state)
    finite = [(v, k) for k, v in enumerate(chosen) if v is not None and math.isfinite(v)]
    if not finite:
        raise RuntimeError(f'every individual had a non-finite loss in the {basis.replace("_", " ")}; no genotype')
    best_loss, best = min(finite)
    order = sorted(range(len(chosen)), key=lambda k: (not (chosen[k] is not None and math.isfinite(chosen[k])),
                                                     chosen[k] if chosen[k] is not None else 0, k))
    rank = {k: r + 1 for r, k in enumerate(order)}
    result = SearchResult(out, out / 'genotype.json', best, best_loss, state.evaluations, state.seconds,
                          state.saved_evaluations)
    if not main:
        return result
    genotypes = [decode(v) for v in state.opt.population]
    genotype = decode(state.opt.population[best], name=f'search_seed{cfg.seed}')
    save_genotype(genotype, out / 'genotype.json')
    last = state.history[-1]
    final = state.final
    population = [dict(individual=k, rank=rank[k], vector=[float(v) for v in vec], genotype=genotypes[k].to_dict(),
                       final_val_loss=None if final[k] is None else final[k]['val_loss'],
                       final_val_acc=None if final[k] is None else final[k]['val_acc'],
                       last_val_loss=finite_or_none(last[k]))
                  for k, vec in enumerate(state.opt.population)]
    population.sort(key=lambda d: d['rank'])
    atomic_write_json(out / 'population.json', dict(
        generations=state.opt.generation, chosen_by=basis, best_individual=best, best_val_loss=best_loss,
        note=('vectors after the last update. final_val_loss: one epoch from the final Omega, the same for '
              'every individual, no write-back (the ranking the genotype is chosen by when chosen_by is '
              'final_ranking); last_val_loss: the loss in the last generation, where each pair started '
              'from a different Omega (fast-learners did not move since)'),
        population=population), indent=1)
    refresh_plots(cfg, out, state, genotype=genotype,
                  title=f'chosen ({basis.replace("_", " ")}, val loss {best_loss:.3f})')
    return result


class GenerationScalars:
    """Per-generation scalars for TensorBoard (``tensorboard: true``, main process, when installed)."""

    def __init__(self, enabled: bool, out: Path):
        self.writer = open_writer(out / 'tb', enabled)

    def add(self, generation: int, losses: Sequence[float], lr: float, drop_path: float) -> None:
        if self.writer is not None:
            self.writer.add_scalar('val_loss/best', float(np.min(losses)), generation)
            self.writer.add_scalar('val_loss/mean', float(np.mean(losses)), generation)
            self.writer.add_scalar('lr', lr, generation)
            self.writer.add_scalar('drop_path', drop_path, generation)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
