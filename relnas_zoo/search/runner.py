"""The search loop: slow-fast learning over the encoding, estimated with the weight set, resumable.

Every random number is derived from ``(seed, generation, individual)``: the pairing and update
coefficients from ``(seed, generation)``, a candidate's data order, augmentation and drop-path from
``(seed, generation, individual)``. A checkpoint (:mod:`.state`) written after each pair therefore holds
the whole RNG state in its position, and a resumed run repeats an uninterrupted one exactly (on the CPU;
cuDNN kernels may add float noise on a GPU).

A generation: the decider's plan (:mod:`.predicted_pairs`, ``predictor: renas``), the candidates
evaluated by the mode's strategy (:mod:`.strategies`), one line in ``generations.jsonl``
(:mod:`relnas_zoo.search_log`), the optimizer told every decision, the plots refreshed (:mod:`.outputs`).

After the last generation (``final_ranking``, default) every individual of the final population is
trained for one epoch from the same final Omega, without writing back, and the genotype is the best of
that ranking: in sequential mode, pair p of a generation starts from an Omega already trained by the p
earlier pairs, so losses of different pairs are not comparable and "lowest loss of the last
generation" would favour late pairs.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import torch
import torch.distributed as torch_dist
import yaml

from ..atomic import atomic_write_json, atomic_write_text
from ..config_io import config_from_mapping, resumed_config
from ..distributed import DistInfo, init_distributed
from ..encoding import GENOTYPE_VECTORS
from ..run_folder import claim_folder
from ..search_log import EVAL_LOG, evaluated_pairs
from .config import ConfigError, SearchConfig
from .context import SearchContext, candidate_seed
from .generation import Generation
from .optimizer import SlowFastOptimizer
from .outputs import GenerationScalars, SearchResult, refresh_plots, write_outputs
from .predicted_pairs import make_decider, plan_pairs
from .state import CHECKPOINT, RUN_OUTPUTS, RunFiles, SearchState, interrupts_deferred, read_checkpoint
from .strategies import STRATEGIES, run_final_ranking

__all__ = ['run_search', 'SearchResult', 'candidate_seed', 'RESUME_SAFE_FIELDS']

log = logging.getLogger('relnas_zoo.search')
# settings added since a run could start: what such a run used, so that it resumes as it began
_EARLIER_DEFAULTS = dict(predictor_epochs=100, predictor_batch_size=1024, predictor_features='renas',
                         predictor_prior='none')


# Fields a resumed run takes from an edited config.yaml: they change where, how fast or how long it runs
# (more generations), never the numbers it computes. Any other change is refused.
RESUME_SAFE_FIELDS = ('generations', 'data', 'device', 'eval_batch_size', 'tensorboard', 'plots',
                      'keep_freed_memory')


def _resumed_config(cfg: SearchConfig, out: Path, state: Dict[str, Any]) -> SearchConfig:
    """The run's own config (saved in its checkpoint ``state``) with the safe changes of ``cfg``; a
    ConfigError naming every other changed field."""
    if 'config' not in state:
        return cfg
    earlier = {k: v for k, v in _EARLIER_DEFAULTS.items() if k not in state['config']}
    saved = config_from_mapping(SearchConfig, {**state['config'], **earlier}, str(out / CHECKPOINT))
    fresh = SearchConfig()
    for key, value in earlier.items():  # its config.yaml lacks them too: not a change the user made
        if getattr(cfg, key) == getattr(fresh, key):
            setattr(cfg, key, value)
    done = state['optimizer']['generation']
    if cfg.generations < done:
        raise ConfigError(f'generations={cfg.generations}: the run in {out} has already done {done} generations')
    cfg, changed = resumed_config(saved, cfg, RESUME_SAFE_FIELDS, out, 'search')
    for key, (old, new) in changed.items():
        log.info('resume: %s changed from %r to %r', key, old, new)
    return cfg


def run_search(cfg: SearchConfig, out_dir: os.PathLike, resume: bool = False, progress: bool = True,
               force: bool = False) -> SearchResult:
    """Run (or continue, with ``resume``) a search in ``out_dir``; see the module docstring.

    A new search needs an empty or new folder (``force``: clear a previous search's files first). A
    resumed run keeps the settings it started with (saved in its checkpoint): ``cfg`` may change only
    ``RESUME_SAFE_FIELDS``, and any other difference is a ConfigError naming the field.
    """
    out = Path(out_dir)
    state = read_checkpoint(out) if resume and (out / CHECKPOINT).is_file() else None
    if state is not None:
        cfg = _resumed_config(cfg, out, state)
    dist = init_distributed('cpu' if cfg.device == 'cpu' else 'auto')  # a bad device is named by _device
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True  # the same few conv shapes recur in every candidate
    if dist.world > 1 and cfg.mode != 'parallel':
        raise ConfigError(f"mode='{cfg.mode}' runs pairs one after another and cannot use {dist.world} "
                          f"processes; set --set mode=parallel under torchrun")
    cfg.checked()
    if resume and not (out / CHECKPOINT).exists():
        raise FileNotFoundError(f'nothing to resume: {out / CHECKPOINT} does not exist')
    # one run per folder: the main process holds the folder's lock until the search ends
    claim = (claim_folder(out, 'search', CHECKPOINT, RUN_OUTPUTS, resume, force) if dist.main
             else contextlib.nullcontext())
    with claim:
        if dist.world > 1:
            torch_dist.barrier()
        # handed over in a list that _search empties: no frame keeps the checkpoint's copy of Omega
        checkpoint = [state] if resume else []
        del state
        return _search(cfg, out, dist, checkpoint, progress)


class _Run:
    """One run in its folder: the context candidates are trained in, the state, the files."""

    def __init__(self, cfg: SearchConfig, out: Path, dist: DistInfo, progress: bool):
        self.cfg, self.out, self.dist = cfg, out, dist
        self.ctx = SearchContext(cfg, dist, progress)
        lo, hi = GENOTYPE_VECTORS.bounds()
        self.state = SearchState(SlowFastOptimizer(lo, hi, cfg.population, seed=cfg.seed), self.ctx.initial_omega(),
                                 make_decider(cfg))
        self.files = RunFiles(out, dist.main)

    def save(self) -> None:
        self.files.save(self.state, self.cfg.to_dict())

    def run_generation(self, bar: Any) -> None:
        state, cfg = self.state, self.cfg
        gen = Generation(state)
        if state.plan is None:  # made once, before the generation's first pair, and saved
            plan = plan_pairs(state.decider, cfg, self.dist, gen.index, gen.genotypes, gen.pairs)
            with interrupts_deferred():
                state.plan = plan
                self.save()
        STRATEGIES[cfg.mode](self.ctx, state, gen, state.plan, self.files, self.save, bar)
        with interrupts_deferred():
            state.history.append(list(state.losses))
            record = gen.record(state, cfg.lr_at(gen.index), cfg.drop_path_at(gen.index))
            self.files.append_generation(record)  # vectors as evaluated, before the slow-learners move
            if state.decider is not None:
                state.decider.add_pairs(evaluated_pairs(record))
            state.opt.tell(gen.pairs, gen.outcomes(state))
            state.start_generation()
            self.save()
        if self.dist.main:
            refresh_plots(cfg, self.out, state, last=record)


def _search(cfg: SearchConfig, out: Path, dist: DistInfo, checkpoint: List[Dict[str, Any]],
            progress: bool) -> SearchResult:
    resume = bool(checkpoint)
    run = _Run(cfg, out, dist, progress)
    state, ctx = run.state, run.ctx
    if resume:
        state.load_state_dict(checkpoint.pop(), out / CHECKPOINT)  # the checkpoint's copy of Omega goes
        run.files.cut_logs_to(state)
        log.info('resumed at generation %d, pair %d', state.opt.generation, state.pair_pos)
    if dist.main:  # the settings it runs with (on resume: --set generations=N), for the next --resume too
        atomic_write_text(out / 'config.yaml', yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    if not resume:
        if dist.main:
            atomic_write_json(out / 'split.json', dict(seed=cfg.seed, **ctx.split), indent=None)
            (out / EVAL_LOG).write_text('')
        run.save()  # from here on, --resume works whenever the run stops
    log.info('search: N=%d, G=%d, mode=%s, device=%s, %d processes, %d/%d search-train/val images, Omega '
             'holds %.2fM values', cfg.population, cfg.generations, cfg.mode, ctx.device, dist.world,
             ctx.train.num_samples, ctx.val.num_samples, state.omega.num_elements() / 1e6)
    if ctx.host_memory_kept:
        log.info('host memory: freed memory stays in the process (glibc; keep_freed_memory=false to leave '
                 'malloc as it is)')
    from tqdm import tqdm
    bars = dict(disable=not ctx.progress, dynamic_ncols=True)
    gen_bar = tqdm(total=cfg.generations, initial=state.opt.generation, desc='generations', unit='gen', position=0,
                   **bars)
    ranking_pending = cfg.final_ranking and any(r is None for r in state.final)
    already_finished = resume and state.opt.generation >= cfg.generations and not ranking_pending
    scalars = GenerationScalars(cfg.tensorboard and dist.main, out)
    try:
        while state.opt.generation < cfg.generations:
            t0 = time.perf_counter()
            g = state.opt.generation
            if any(r is not None for r in state.final):
                # a finished run extended with more generations: its final ranking was of an earlier
                # population and Omega; the final population is ranked again after the last generation
                state.final = [None] * cfg.population
                if dist.main:
                    log.info('more generations than the finished run had: its final ranking is redone at the end')
            with tqdm(total=cfg.population, initial=2 * state.pair_pos if cfg.mode == 'sequential' else 0,
                      desc=f'gen {g} candidates', unit='cand', leave=False, position=1, **bars) as bar:
                run.run_generation(bar)
            state.seconds += time.perf_counter() - t0
            losses = [v for v in state.history[-1] if v is not None and math.isfinite(v)]
            if dist.main and not losses:
                log.info('generation %d: every pair decided by the predictor (%.1fs)', g, time.perf_counter() - t0)
            elif dist.main:
                log.info('generation %d: val loss best %.4f mean %.4f (lr %.4g, drop-path %.3g, %.1fs)', g,
                         min(losses), sum(losses) / len(losses), cfg.lr_at(g), cfg.drop_path_at(g),
                         time.perf_counter() - t0)
                scalars.add(g, losses, cfg.lr_at(g), cfg.drop_path_at(g))
            gen_bar.update(1)
        if cfg.final_ranking and any(r is None for r in state.final):
            done = sum(r is not None for r in state.final)
            with tqdm(total=cfg.population, initial=done, desc='final ranking', unit='cand', leave=False, position=1,
                      **bars) as bar:
                run_final_ranking(ctx, state, run.save, bar)
            if dist.main:
                log.info('final ranking from the last Omega: %s', ', '.join(
                    f'{k}: {r["val_loss"]:.4f}' if r['val_loss'] is not None else f'{k}: nan'
                    for k, r in enumerate(state.final)))
    except KeyboardInterrupt:
        if dist.main:
            print(f'\ninterrupted: the last completed pair is saved; continue with --resume {out}', file=sys.stderr)
        raise
    finally:
        gen_bar.close()
        scalars.close()
    result = write_outputs(cfg, out, state, dist.main)
    result.already_finished = already_finished
    return result
