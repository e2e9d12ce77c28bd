"""The search loop: slow-fast learning over the encoding, estimated with the weight set, resumable.

Every random number is derived from ``(seed, generation, individual)``: the pairing and update
coefficients from ``(seed, generation)``, a candidate's data order, augmentation and drop-path from
``(seed, generation, individual)``. A checkpoint written after each pair therefore holds the whole RNG
state in its position, and a resumed run repeats an uninterrupted one exactly (on the CPU; cuDNN
kernels may add float noise on a GPU).

After the last generation (``final_ranking``, default) every individual of the final population is
trained for one epoch from the same final Omega, without writing back, and the genotype is the best of
that ranking: in sequential mode, pair p of a generation starts from an Omega already trained by the p
earlier pairs, so losses of different pairs are not comparable and "lowest loss of the last
generation" would favour late pairs.

Per generation, ``generations.jsonl`` gets one line: every individual's vector, genotype and loss, every
pair decision (both vectors, both losses, who was fast) and the population's diversity; the plots are
refreshed at the same time, so a user can follow a long run from its folder.

With ``predictor: renas`` (off by default), a ReNAS predictor decides the pairs it is confident about
from generation ``predictor_warmup`` on (``search.predicted_pairs``): those pairs train nothing and give
Omega nothing, their decisions are marked ``decided: predicted`` in ``generations.jsonl`` (no
``evaluations.jsonl`` lines), and the final ranking still evaluates every individual.

Modes:
* ``sequential`` (default, the authors' procedure): pairs run one after another and each pair's
  candidates inherit the Omega left by the previous pair.
* ``parallel``: every candidate of a generation inherits the Omega of the generation's start; the
  candidates are spread over the torchrun processes, and Omega is then updated pair by pair in pair
  order (Eq. 6), identically on every rank. One process in parallel mode gives the same result as N.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.distributed as torch_dist
import yaml

from ..atomic import atomic_torch_save, atomic_write_json, atomic_write_text, previous_path
from ..config_io import config_from_mapping, resumed_config
from ..data import TensorBatches, load_cifar, load_digits, split_indices
from ..data.normalization import mean_std
from ..distributed import DistInfo, init_distributed
from ..encoding import bounds, decode
from ..genotypes import Genotype, save_genotype
from ..run_folder import claim_folder
from ..torch_files import load_run_checkpoint
from .config import ConfigError, SearchConfig
from .estimator import CandidateResult, TrainSettings, evaluate_candidate
from .host_memory import keep_freed_memory
from .optimizer import SlowFastOptimizer, decide
from .predicted_pairs import PairPlan, PairPredictor
from .summary import GENERATION_LOG, diversity, evaluated_pairs, read_generations
from .weight_set import WeightSet

__all__ = ['run_search', 'SearchResult', 'candidate_seed']

log = logging.getLogger('relnas_zoo.search')
CHECKPOINT = 'checkpoint.pt'
EVAL_LOG = 'evaluations.jsonl'
# 1: Omega keyed by genotype slot (one weight shared by every input node of a slot); 2: keyed by edge
CHECKPOINT_VERSION = 2


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


def candidate_seed(seed: int, generation: int, individual: int) -> int:
    return int(np.random.SeedSequence([seed, generation, individual]).generate_state(1)[0])


def _device(cfg: SearchConfig, dist: DistInfo) -> torch.device:
    if cfg.device == 'auto':
        return torch.device(f'cuda:{dist.local_rank}' if torch.cuda.is_available() else 'cpu')
    if cfg.device.startswith('cuda') and not torch.cuda.is_available():
        raise ConfigError(f"device={cfg.device!r}: CUDA is not available here; use device=cpu or auto")
    if cfg.device == 'cuda' and dist.world > 1:
        return torch.device(f'cuda:{dist.local_rank}')
    return torch.device(cfg.device)


def _load_data(cfg: SearchConfig) -> tuple:
    data = load_digits(32) if cfg.dataset == 'digits' else load_cifar(cfg.data, cfg.dataset, train=True)
    return (data, *mean_std(cfg.dataset))


class _Run:
    """State and I/O of one search run directory."""

    def __init__(self, cfg: SearchConfig, out_dir: Path, dist: DistInfo, progress: bool):
        self.cfg, self.out, self.dist = cfg, out_dir, dist
        self.device = _device(cfg, dist)
        # before the data and the first candidate are allocated
        self.host_memory_kept = cfg.keep_freed_memory and self.device.type == 'cpu' and keep_freed_memory()
        self.progress = progress and dist.main
        data, mean, std = _load_data(cfg)
        train_idx, val_idx = split_indices(len(data), cfg.seed, cfg.train_fraction)
        if cfg.subset:
            train_idx, val_idx = train_idx[:cfg.subset], val_idx[:cfg.subset]
        self.split = dict(train=train_idx.tolist(), val=val_idx.tolist())
        self.num_classes = int(data.labels.max()) + 1 if cfg.dataset == 'digits' else len(data.classes)
        common = dict(mean=mean, std=std, device=self.device, channels_last=cfg.use_channels_last(self.device.type))
        tr, va = data.subset(train_idx), data.subset(val_idx)
        self.train = TensorBatches(tr.images, tr.labels, batch_size=cfg.batch_size, augment=True,
                                   cutout=cfg.cutout, **common)
        # the authors' code validates on the training transform; clean images by default (config comment)
        self.val = TensorBatches(va.images, va.labels, batch_size=cfg.eval_batch_for(self.device.type),
                                 augment=cfg.val_augment,
                                 cutout=cfg.cutout if cfg.val_augment else 0, **common)
        self.net_args = dict(C=cfg.C, layers=cfg.layers, num_classes=self.num_classes, stem_type='cifar')
        self.omega = WeightSet.initial(cfg.seed, self.device, **self.net_args)
        lo, hi = bounds()
        self.opt = SlowFastOptimizer(lo, hi, cfg.population, seed=cfg.seed)
        self.pair_pos = 0
        self.losses: List[Optional[float]] = [None] * cfg.population
        self.history: List[List[Optional[float]]] = []
        self.pair_log: List[Dict[str, Any]] = []      # decisions of the current generation so far
        self.final: List[Optional[Dict[str, Any]]] = [None] * cfg.population  # the final ranking
        self.log_lines = 0
        self.evaluations = 0
        self.saved_evaluations = 0
        self.seconds = 0.0
        self.pair_predictor = (PairPredictor(cfg.seed, cfg.predictor_warmup, cfg.predictor_threshold,
                                             cfg.predictor_epochs) if cfg.predictor == 'renas' else None)
        self.plan: Optional[List[PairPlan]] = None  # the current generation's predicted decisions

    # ---------------------------------------------------------------- checkpoint
    def state(self) -> Dict[str, Any]:
        return dict(version=CHECKPOINT_VERSION, config=self.cfg.to_dict(), optimizer=self.opt.state_dict(),
                    omega=self.omega.state_dict(), pair_pos=self.pair_pos, losses=list(self.losses),
                    history=[list(h) for h in self.history], pair_log=json.dumps(self.pair_log),
                    final=json.dumps(self.final), log_lines=self.log_lines,
                    evaluations=self.evaluations, saved_evaluations=self.saved_evaluations,
                    seconds=self.seconds, rng_note='derived from (seed, position)',
                    plan=json.dumps(self.plan),
                    predictor=None if self.pair_predictor is None else self.pair_predictor.state_dict())

    def save(self) -> None:
        if self.dist.main:
            atomic_torch_save(self.state(), self.out / CHECKPOINT, keep_previous=True)

    def restore(self, state: Dict[str, Any]) -> None:
        """Continue from ``state``, the run's checkpoint as read by ``_read_checkpoint``."""
        if state.get('version') != CHECKPOINT_VERSION:
            raise ConfigError(
                f'{self.out / CHECKPOINT} was written by an older relnas_zoo (checkpoint version '
                f'{state.get("version")}, this one writes {CHECKPOINT_VERSION}) whose weight set kept one weight per '
                f'genotype slot, shared by every input node; this version keeps one per edge, as the paper and '
                f'the authors\' code do. The run cannot continue with other weights than it started with: '
                f'start a new search with --out')
        self.opt.load_state_dict(state['optimizer'])
        self.omega.load_state_dict(state['omega'])
        self.pair_pos = state['pair_pos']
        self.losses = list(state['losses'])
        self.history = [list(h) for h in state['history']]
        self.pair_log = json.loads(state['pair_log'])
        self.final = json.loads(state['final'])
        self.log_lines = state['log_lines']
        self.evaluations = state['evaluations']
        self.seconds = state['seconds']
        self.saved_evaluations = state.get('saved_evaluations', 0)
        self.plan = json.loads(state.get('plan', 'null'))
        if self.pair_predictor is not None and state.get('predictor') is not None:
            self.pair_predictor.load_state_dict(state['predictor'])
        if self.dist.main:  # drop log lines written after the checkpoint (the pair was redone)
            path = self.out / EVAL_LOG
            if path.exists():
                lines = path.read_text().splitlines(keepends=True)[:self.log_lines]
                atomic_write_text(path, ''.join(lines))
            path = self.out / GENERATION_LOG  # one line per completed generation
            if path.exists():
                lines = path.read_text().splitlines(keepends=True)[:len(self.history)]
                atomic_write_text(path, ''.join(lines))

    # ---------------------------------------------------------------- one candidate / pair
    def settings(self, generation: int) -> TrainSettings:
        c = self.cfg
        return TrainSettings(lr=c.lr_at(generation), momentum=c.momentum, weight_decay=c.weight_decay,
                             grad_clip=c.grad_clip, drop_path=c.drop_path_at(generation), amp=c.amp,
                             channels_last=c.use_channels_last(self.device.type), cuda_graphs=c.cuda_graphs)

    def evaluate(self, individual: int, final: bool = False) -> CandidateResult:
        """One candidate; ``final``: the final ranking (last generation's settings, no write-back)."""
        g = self.opt.generation
        settings = self.settings(self.cfg.generations - 1 if final else g)
        genotype = decode(self.opt.population[individual])
        return evaluate_candidate(genotype, self.omega, self.net_args, self.train, self.val, settings,
                                  candidate_seed(self.cfg.seed, g, individual), write_back=not final)

    def record(self, pair: int, i: int, j: int, res_i: CandidateResult, res_j: CandidateResult) -> str:
        """Apply Eq. 6 for a decided pair, log both candidates; return a short status."""
        out = decide(i, j, res_i.val_loss, res_j.val_loss)
        results = {i: res_i, j: res_j}
        if out.fast is not None:
            fast, slow = results[out.fast], results[out.slow]
            if slow.weights is not None:
                self.omega.merge(fast.weights, slow.weights)
            else:
                self.omega.merge_single(fast.weights)
        g = self.opt.generation
        settings = self.settings(g)
        vec = lambda k: [round(float(v), 6) for v in self.opt.population[k]]
        self.pair_log.append(dict(pair=pair, i=i, j=j, fast=out.fast, slow=out.slow, loss_i=_num(res_i.val_loss),
                                  loss_j=_num(res_j.val_loss), vector_i=vec(i), vector_j=vec(j), decided='evaluated'))
        lines = []
        for idx in (i, j):
            r = results[idx]
            role = 'fast' if idx == out.fast else 'slow' if idx == out.slow else 'nan'
            if not r.finite:
                log.warning('generation %d pair %d: individual %d has a non-finite loss (train %.4g, val %.4g); '
                            'it loses its pair and its weights stay out of Omega', g, pair, idx,
                            r.train_loss, r.val_loss)
            self.losses[idx] = r.val_loss if r.finite else float('inf')
            lines.append(json.dumps(dict(
                generation=g, pair=pair, individual=idx, role=role,
                vector=[round(float(v), 6) for v in self.opt.population[idx]],
                genotype=decode(self.opt.population[idx]).to_dict(),
                train_loss=_num(r.train_loss), train_acc=r.train_acc, val_loss=_num(r.val_loss),
                val_acc=r.val_acc, seconds=round(r.seconds, 3), lr=settings.lr, drop_path=settings.drop_path)))
            self.evaluations += 1
        if self.dist.main:
            with open(self.out / EVAL_LOG, 'a') as f:
                f.write('\n'.join(lines) + '\n')
        self.log_lines += 2
        return f'{res_i.val_loss:.3f} vs {res_j.val_loss:.3f}'

    def record_predicted(self, pair: int, i: int, j: int, plan: Dict[str, Any]) -> str:
        """A pair the predictor decided: logged as such; no candidate trained, Omega unchanged."""
        vec = lambda k: [round(float(v), 6) for v in self.opt.population[k]]
        self.pair_log.append(dict(pair=pair, i=i, j=j, fast=plan['fast'], slow=plan['slow'], loss_i=None,
                                  loss_j=None, vector_i=vec(i), vector_j=vec(j), decided='predicted',
                                  score_i=plan['score_i'], score_j=plan['score_j'], confidence=plan['confidence']))
        self.saved_evaluations += 2
        return f'predicted ({plan["confidence"]:.2f})'

    def make_plan(self, pairs: Sequence[tuple]) -> None:
        """The predictor's decisions for this generation, made once before its first pair and saved."""
        plan: List[PairPlan] = [None] * len(pairs)
        if self.pair_predictor is not None:
            if self.dist.main:
                genotypes = [decode(v) for v in self.opt.population]
                plan = self.pair_predictor.plan(self.opt.generation, genotypes, pairs)
            if self.dist.world > 1:  # one predictor, on the main process; every rank follows its plan
                box = [plan]
                torch_dist.broadcast_object_list(box, src=0)
                plan = box[0]
            decided = sum(p is not None for p in plan)
            if self.pair_predictor.predictor is not None and self.dist.main:
                log.info('generation %d: the predictor (%d training pairs, %.1fs) decides %d of %d pairs',
                         self.opt.generation, len(self.pair_predictor.pairs),
                         self.pair_predictor.predictor.fit_seconds, decided, len(pairs))
        with _interrupts_deferred():
            self.plan = plan
            self.save()

    # ---------------------------------------------------------------- generations
    def run_generation(self, bar) -> None:
        pairs = self.opt.ask()
        if self.plan is None:
            self.make_plan(pairs)
        plan = self.plan
        if self.cfg.mode == 'sequential':
            for p in range(self.pair_pos, len(pairs)):
                i, j = pairs[p]
                if plan[p] is not None:
                    with _interrupts_deferred():
                        status = self.record_predicted(p, i, j, plan[p])
                        self.pair_pos = p + 1
                        self.save()
                else:
                    res_i, res_j = self.evaluate(i), self.evaluate(j)
                    with _interrupts_deferred():
                        status = self.record(p, i, j, res_i, res_j)
                        self.pair_pos = p + 1
                        self.save()
                if bar is not None:
                    bar.update(2)
                    bar.set_postfix_str(status)
        else:
            order = [k for p, pair in enumerate(pairs) if plan[p] is None for k in pair]
            results: Dict[int, CandidateResult] = {}
            for pos, idx in enumerate(order):
                if pos % self.dist.world == self.dist.rank:
                    results[idx] = self.evaluate(idx)
                    if bar is not None:
                        bar.update(self.dist.world)
            results = self._gather(order, results)
        with _interrupts_deferred():
            if self.cfg.mode == 'parallel':
                for p, (i, j) in enumerate(pairs):
                    if plan[p] is not None:
                        self.record_predicted(p, i, j, plan[p])
                    else:
                        self.record(p, i, j, results[i], results[j])
            self.history.append(list(self.losses))
            self.log_generation()  # vectors as evaluated, before the slow-learners move
            told = [math.inf if v is None else v for v in self.losses]
            for d in self.pair_log:  # a predicted pair: its order, for the optimizer's update only
                if d['decided'] == 'predicted':
                    told[d['fast']], told[d['slow']] = 0.0, 1.0
            self.opt.tell(pairs, told)
            self.pair_pos = 0
            self.losses = [None] * self.cfg.population
            self.pair_log = []
            self.plan = None
            self.save()

    def log_generation(self) -> None:
        """Append the generation's line to generations.jsonl (inside the block that saves its checkpoint);
        its evaluated pairs join the predictor's training pairs."""
        g = self.opt.generation
        roles, predicted = {}, set()
        for d in self.pair_log:
            roles.update({d['fast']: 'fast', d['slow']: 'slow'})
            if d['decided'] == 'predicted':
                predicted.update((d['i'], d['j']))
        pop = self.opt.population
        individuals = [dict(individual=k, vector=[round(float(v), 6) for v in pop[k]],
                            genotype=decode(pop[k]).to_dict(), val_loss=_num(self.losses[k]),
                            role=roles.get(k, 'nan'), evaluated=k not in predicted) for k in range(len(pop))]
        finite = [(v, k) for k, v in enumerate(self.losses) if v is not None and math.isfinite(v)]
        line = dict(generation=g, lr=self.cfg.lr_at(g), drop_path=self.cfg.drop_path_at(g),
                    best_individual=min(finite)[1] if finite else None,
                    best_val_loss=min(finite)[0] if finite else None,
                    mean_val_loss=float(np.mean([v for v, _ in finite])) if finite else None,
                    diversity=diversity(pop, self.opt.lower, self.opt.upper),
                    predicted_pairs=sum(d['decided'] == 'predicted' for d in self.pair_log),
                    pairs=self.pair_log, individuals=individuals)
        if self.pair_predictor is not None:
            self.pair_predictor.add_pairs(evaluated_pairs(line))
        if not self.dist.main:
            return
        with open(self.out / GENERATION_LOG, 'a') as f:
            f.write(json.dumps(line) + '\n')

    def run_final_ranking(self, bar) -> None:
        """Every individual, one epoch each from the same final Omega, without writing back."""
        pending = [k for k, r in enumerate(self.final) if r is None]
        mine: Dict[int, CandidateResult] = {}
        for pos, k in enumerate(pending):
            if pos % self.dist.world != self.dist.rank:
                continue
            r = self.evaluate(k, final=True)
            mine[k] = r
            if bar is not None:
                bar.update(self.dist.world)
            if self.dist.world == 1:  # one process: every evaluation is kept across a kill
                with _interrupts_deferred():
                    self.final[k] = _final_entry(r)
                    self.save()
        if self.dist.world > 1:
            results = self._gather(pending, mine)
            with _interrupts_deferred():
                for k, r in results.items():
                    self.final[k] = _final_entry(r)
                self.save()

    def _gather(self, order: Sequence[int], mine: Dict[int, CandidateResult]) -> Dict[int, CandidateResult]:
        if self.dist.world == 1:
            return mine
        out: Dict[int, CandidateResult] = {}
        for pos, idx in enumerate(order):
            owner = pos % self.dist.world
            box = [None]
            if owner == self.dist.rank:
                r = mine[idx]
                weights = None if r.weights is None else {k: v.cpu() for k, v in r.weights.items()}
                box = [CandidateResult(r.train_loss, r.train_acc, r.val_loss, r.val_acc, r.seconds, weights)]
            torch_dist.broadcast_object_list(box, src=owner)
            r = box[0]
            if r.weights is not None:
                r.weights = {k: v.to(self.device) for k, v in r.weights.items()}
            out[idx] = r
        return out

    # ---------------------------------------------------------------- outputs
    def ranking(self) -> tuple:
        """(losses used to choose, what they are): the final ranking's, or the last generation's."""
        if self.cfg.final_ranking:
            return [None if r is None else r['val_loss'] for r in self.final], 'final_ranking'
        return self.history[-1], 'last_generation'

    def refresh_plots(self, genotype=None, title: str = '') -> None:
        """losses.png, diversity.png and cells.png (the current best), rewritten every generation."""
        if not (self.cfg.plots and self.dist.main and self.history):
            return
        try:
            from ..plot import plot_genotype
            from .plots import plot_diversity, plot_loss_trajectories
        except ImportError as e:
            log.warning('skipping plots: %s', e)
            return
        gens = read_generations(self.out)
        plot_loss_trajectories(self.history, self.out / 'losses.png')
        plot_diversity(gens, self.out / 'diversity.png')
        if genotype is None:
            if not gens:
                return
            line = gens[-1]  # the vectors have moved since; the generation's line holds what was evaluated
            if line['best_individual'] is None:
                return
            genotype = Genotype.from_dict(line['individuals'][line['best_individual']]['genotype'])
            title = f'best of generation {line["generation"]} (val loss {line["best_val_loss"]:.3f})'
        plot_genotype(genotype, self.out / 'cells.png', title=title)

    def write_outputs(self) -> SearchResult:
        chosen, basis = self.ranking()
        finite = [(v, k) for k, v in enumerate(chosen) if v is not None and math.isfinite(v)]
        if not finite:
            raise RuntimeError(f'every individual had a non-finite loss in the {basis.replace("_", " ")}; no genotype')
        best_loss, best = min(finite)
        order = sorted(range(len(chosen)), key=lambda k: (not (chosen[k] is not None and math.isfinite(chosen[k])),
                                                         chosen[k] if chosen[k] is not None else 0, k))
        rank = {k: r + 1 for r, k in enumerate(order)}
        genotype = decode(self.opt.population[best], name=f'search_seed{self.cfg.seed}')
        result = SearchResult(self.out, self.out / 'genotype.json', best, best_loss, self.evaluations, self.seconds,
                              self.saved_evaluations)
        if not self.dist.main:
            return result
        save_genotype(genotype, self.out / 'genotype.json')
        last = self.history[-1]
        population = [dict(individual=k, rank=rank[k], vector=[float(v) for v in vec], genotype=decode(vec).to_dict(),
                           final_val_loss=None if self.final[k] is None else self.final[k]['val_loss'],
                           final_val_acc=None if self.final[k] is None else self.final[k]['val_acc'],
                           last_val_loss=_num(last[k]))
                      for k, vec in enumerate(self.opt.population)]
        population.sort(key=lambda d: d['rank'])
        atomic_write_json(self.out / 'population.json', dict(
            generations=self.opt.generation, chosen_by=basis, best_individual=best, best_val_loss=best_loss,
            note=('vectors after the last update. final_val_loss: one epoch from the final Omega, the same for '
                  'every individual, no write-back (the ranking the genotype is chosen by when chosen_by is '
                  'final_ranking); last_val_loss: the loss in the last generation, where each pair started '
                  'from a different Omega (fast-learners did not move since)'),
            population=population), indent=1)
        self.refresh_plots(genotype, f'chosen ({basis.replace("_", " ")}, val loss {best_loss:.3f})')
        return result


def _final_entry(r: CandidateResult) -> Dict[str, Any]:
    return dict(val_loss=_num(r.val_loss), val_acc=r.val_acc, train_loss=_num(r.train_loss), train_acc=r.train_acc,
                seconds=round(r.seconds, 3))


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold Ctrl-C until the block ends, so a log line and its checkpoint are written together."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def _num(v: float) -> Optional[float]:
    return float(v) if v is not None and math.isfinite(v) else None


def _tensorboard(cfg: SearchConfig, out: Path, dist: DistInfo):
    if not (cfg.tensorboard and dist.main):
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / 'tb'))


# Fields a resumed run takes from an edited config.yaml: they change where, how fast or how long it runs
# (more generations), never the numbers it computes. Any other change is refused.
RESUME_SAFE_FIELDS = ('generations', 'data', 'device', 'eval_batch_size', 'tensorboard', 'plots',
                      'keep_freed_memory')


def _read_checkpoint(out: Path) -> Dict[str, Any]:
    """The run's checkpoint; when it is damaged, the error offers the previous one (one pair earlier)."""
    return load_run_checkpoint(out / CHECKPOINT, 'search checkpoint', f'relnas-zoo search --resume {out}')


def _resumed_config(cfg: SearchConfig, out: Path, state: Dict[str, Any]) -> SearchConfig:
    """The run's own config (saved in its checkpoint ``state``) with the safe changes of ``cfg``; a
    ConfigError naming every other changed field."""
    if 'config' not in state:
        return cfg
    saved = config_from_mapping(SearchConfig, state['config'], str(out / CHECKPOINT))
    done = state['optimizer']['generation']
    if cfg.generations < done:
        raise ConfigError(f'generations={cfg.generations}: the run in {out} has already done {done} generations')
    cfg, changed = resumed_config(saved, cfg, RESUME_SAFE_FIELDS, out, 'search')
    for key, (old, new) in changed.items():
        log.info('resume: %s changed from %r to %r', key, old, new)
    return cfg


# What a search writes in its folder; --force clears exactly these before a new search there.
RUN_OUTPUTS = (CHECKPOINT, previous_path(CHECKPOINT).name, EVAL_LOG, GENERATION_LOG, 'config.yaml', 'split.json',
               'population.json', 'genotype.json', 'losses.png', 'diversity.png', 'cells.png', 'search.log', 'tb')


def run_search(cfg: SearchConfig, out_dir: os.PathLike, resume: bool = False, progress: bool = True,
               force: bool = False) -> SearchResult:
    """Run (or continue, with ``resume``) a search in ``out_dir``; see the module docstring.

    A new search needs an empty or new folder (``force``: clear a previous search's files first). A
    resumed run keeps the settings it started with (saved in its checkpoint): ``cfg`` may change only
    ``RESUME_SAFE_FIELDS``, and any other difference is a ConfigError naming the field.
    """
    out = Path(out_dir)
    state = _read_checkpoint(out) if resume and (out / CHECKPOINT).is_file() else None
    if state is not None:
        cfg = _resumed_config(cfg, out, state)
    dist = init_distributed('cpu' if cfg.device == 'cpu' else 'auto')  # a bad device is named by _device
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True  # the same few conv shapes recur in every candidate
    if dist.world > 1 and cfg.mode != 'parallel':
        raise ConfigError(f"mode='{cfg.mode}' runs pairs one after another and cannot use {dist.world} "
                          f"processes; set --set mode=parallel under torchrun")
    cfg.validate()
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


def _search(cfg: SearchConfig, out: Path, dist: DistInfo, checkpoint: List[Dict[str, Any]],
            progress: bool) -> SearchResult:
    resume = bool(checkpoint)
    run = _Run(cfg, out, dist, progress)
    if resume:
        run.restore(checkpoint.pop())  # the run holds what it needs; the checkpoint's copy of Omega goes
        log.info('resumed at generation %d, pair %d', run.opt.generation, run.pair_pos)
        if dist.main:  # the settings it continues with (--set generations=N), for the next --resume too
            atomic_write_text(out / 'config.yaml', yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    elif dist.main:
        atomic_write_text(out / 'config.yaml', yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        atomic_write_json(out / 'split.json', dict(seed=cfg.seed, **run.split), indent=None)
        (out / EVAL_LOG).write_text('')
    if not resume:
        run.save()  # from here on, --resume works whenever the run stops
    tb = _tensorboard(cfg, out, dist)
    log.info('search: N=%d, G=%d, mode=%s, device=%s, %d processes, %d/%d search-train/val images, Omega '
             'holds %.2fM values', cfg.population, cfg.generations, cfg.mode, run.device, dist.world,
             run.train.num_samples, run.val.num_samples, run.omega.num_elements() / 1e6)
    if run.host_memory_kept:
        log.info('host memory: freed memory stays in the process (glibc; keep_freed_memory=false to leave '
                 'malloc as it is)')
    from tqdm import tqdm
    gen_bar = tqdm(total=cfg.generations, initial=run.opt.generation, desc='generations', unit='gen',
                   disable=not run.progress, position=0, dynamic_ncols=True)
    already_finished = resume and run.opt.generation >= cfg.generations and not (
        cfg.final_ranking and any(r is None for r in run.final))
    try:
        while run.opt.generation < cfg.generations:
            t0 = time.perf_counter()
            g = run.opt.generation
            if any(r is not None for r in run.final):
                # a finished run extended with more generations: its final ranking was of an earlier
                # population and Omega; the final population is ranked again after the last generation
                run.final = [None] * cfg.population
                if dist.main:
                    log.info('more generations than the finished run had: its final ranking is redone at the end')
            with tqdm(total=cfg.population, initial=2 * run.pair_pos if cfg.mode == 'sequential' else 0,
                      desc=f'gen {g} candidates', unit='cand', leave=False, disable=not run.progress,
                      position=1, dynamic_ncols=True) as bar:
                run.run_generation(bar)
            run.seconds += time.perf_counter() - t0
            losses = np.array([v for v in run.history[-1] if v is not None and math.isfinite(v)])
            if dist.main and not len(losses):
                log.info('generation %d: every pair decided by the predictor (%.1fs)', g, time.perf_counter() - t0)
            elif dist.main:
                log.info('generation %d: val loss best %.4f mean %.4f (lr %.4g, drop-path %.3g, %.1fs)', g,
                         losses.min(), losses.mean(), cfg.lr_at(g), cfg.drop_path_at(g), time.perf_counter() - t0)
                if tb is not None:
                    tb.add_scalar('val_loss/best', losses.min(), g)
                    tb.add_scalar('val_loss/mean', losses.mean(), g)
                    tb.add_scalar('lr', cfg.lr_at(g), g)
                    tb.add_scalar('drop_path', cfg.drop_path_at(g), g)
            gen_bar.update(1)
            run.refresh_plots()
        if cfg.final_ranking and any(r is None for r in run.final):
            done = sum(r is not None for r in run.final)
            with tqdm(total=cfg.population, initial=done, desc='final ranking', unit='cand', leave=False,
                      disable=not run.progress, position=1, dynamic_ncols=True) as bar:
                run.run_final_ranking(bar)
            if dist.main:
                log.info('final ranking from the last Omega: %s', ', '.join(
                    f'{k}: {r["val_loss"]:.4f}' if r['val_loss'] is not None else f'{k}: nan'
                    for k, r in enumerate(run.final)))
    except KeyboardInterrupt:
        if dist.main:
            print(f'\ninterrupted: the last completed pair is saved; continue with --resume {out}', file=sys.stderr)
        raise
    finally:
        gen_bar.close()
        if tb is not None:
            tb.close()
    result = run.write_outputs()
    result.already_finished = already_finished
    return result
