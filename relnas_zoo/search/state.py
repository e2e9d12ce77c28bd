"""Everything a search run must keep to continue exactly where it stopped, and its folder's files.

:class:`SearchState` is the one list of what a checkpoint holds: each field with how it is written and
read (:data:`_CODECS`). Its random numbers need no saving: they are derived from ``(seed, position)``.
:class:`RunFiles` writes the checkpoint and the logs of one folder (the main process only) and cuts the
logs back to the checkpoint when a run resumes.
"""
from __future__ import annotations

import contextlib
import json
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..atomic import atomic_torch_save, previous_path
from ..genotypes import Genotype
from ..predictor.pair_decider import PairDecider, PredictedPair
from ..search_log import EVAL_LOG, GENERATION_LOG, GenerationRecord, PairRecord, append_records, keep_first_lines
from ..torch_files import load_run_checkpoint
from .config import ConfigError
from .optimizer import SlowFastOptimizer
from .weight_set import WeightSet

__all__ = ['SearchState', 'RunFiles', 'CHECKPOINT', 'CHECKPOINT_VERSION', 'RUN_OUTPUTS', 'read_checkpoint',
           'interrupts_deferred']

CHECKPOINT = 'checkpoint.pt'
# 1: Omega keyed by genotype slot (one weight shared by every input node of a slot); 2: keyed by edge
CHECKPOINT_VERSION = 2
# What a search writes in its folder; --force clears exactly these before a new search there.
RUN_OUTPUTS = (CHECKPOINT, previous_path(CHECKPOINT).name, EVAL_LOG, GENERATION_LOG, 'config.yaml', 'split.json',
               'population.json', 'genotype.json', 'losses.png', 'diversity.png', 'cells.png', 'search.log', 'tb')

Plan = Optional[List[Optional[PredictedPair]]]


@dataclass
class SearchState:
    opt: SlowFastOptimizer
    omega: WeightSet
    decider: Optional[PairDecider] = None
    pair_pos: int = 0                                   # pairs of the current generation done (sequential)
    losses: List[Optional[float]] = field(default_factory=list)  # this generation's, per individual
    history: List[List[Optional[float]]] = field(default_factory=list)  # every finished generation's losses
    pair_log: List[PairRecord] = field(default_factory=list)  # decisions of the current generation so far
    final: List[Optional[Dict[str, Any]]] = field(default_factory=list)  # the final ranking
    log_lines: int = 0                                  # lines of evaluations.jsonl this state covers
    evaluations: int = 0
    saved_evaluations: int = 0                          # candidates whose pair the decider decided
    seconds: float = 0.0
    plan: Plan = None                                   # the current generation's predicted decisions

    def __post_init__(self):
        n = self.opt.population_size
        self.losses = self.losses or [None] * n
        self.final = self.final or [None] * n

    def start_generation(self) -> None:
        self.pair_pos, self.losses, self.pair_log, self.plan = 0, [None] * self.opt.population_size, [], None

    def state_dict(self, config: Dict[str, Any]) -> Dict[str, Any]:
        out = dict(version=CHECKPOINT_VERSION, config=config, rng_note='derived from (seed, position)')
        out.update({key: write(getattr(self, attr)) for key, (attr, write, _) in _CODECS.items()})
        return out

    def load_state_dict(self, state: Dict[str, Any], source: Path) -> None:
        if state.get('version') != CHECKPOINT_VERSION:
            raise ConfigError(
                f'{source} was written by an older relnas_zoo (checkpoint version {state.get("version")}, this '
                f'one writes {CHECKPOINT_VERSION}) whose weight set kept one weight per genotype slot, shared by '
                f'every input node; this version keeps one per edge, as the paper and the authors\' code do. The '
                f'run cannot continue with other weights than it started with: start a new search with --out')
        for key, (attr, _, read) in _CODECS.items():
            if key in state or key not in _OPTIONAL:
                setattr(self, attr, read(state[key], getattr(self, attr)))


def _into(state: Any, obj: Any) -> Any:
    """Read a stateful object's part of the checkpoint into the object itself, and return it."""
    if obj is not None and state is not None:
        if isinstance(obj, PairDecider):
            obj.load_state_dict(state, arch_from_json=Genotype.from_dict)
        else:
            obj.load_state_dict(state)
    return obj


def _plan_to_json(plan: Plan) -> str:
    return json.dumps(None if plan is None else [None if p is None else p.__dict__ for p in plan])


def _plan_from_json(text: str, _: Any) -> Plan:
    plan = json.loads(text)
    return None if plan is None else [None if p is None else PredictedPair(**p) for p in plan]


_plain = (lambda v: v, lambda v, _: v)
# checkpoint key: (attribute, write, read(value, current attribute)); one list for saving and restoring
_CODECS: Dict[str, Tuple[str, Callable, Callable]] = {
    'optimizer': ('opt', lambda o: o.state_dict(), _into),
    'omega': ('omega', lambda o: o.state_dict(), _into),
    'predictor': ('decider', lambda d: None if d is None else d.state_dict(arch_to_json=Genotype.to_dict), _into),
    'pair_pos': ('pair_pos', *_plain),
    'losses': ('losses', list, lambda v, _: list(v)),
    'history': ('history', lambda h: [list(x) for x in h], lambda v, _: [list(x) for x in v]),
    'pair_log': ('pair_log', lambda log: json.dumps([p.to_dict() for p in log]),
                 lambda v, _: [PairRecord.from_dict(d) for d in json.loads(v)]),
    'final': ('final', json.dumps, lambda v, _: json.loads(v)),
    'log_lines': ('log_lines', *_plain),
    'evaluations': ('evaluations', *_plain),
    'saved_evaluations': ('saved_evaluations', *_plain),
    'seconds': ('seconds', *_plain),
    'plan': ('plan', _plan_to_json, _plan_from_json),
}
_OPTIONAL = ('predictor', 'saved_evaluations', 'plan')  # absent from checkpoints of earlier versions


def read_checkpoint(out: Path) -> Dict[str, Any]:
    """The run's checkpoint; when it is damaged, the error offers the previous one (one pair earlier)."""
    return load_run_checkpoint(out / CHECKPOINT, 'search checkpoint', f'relnas-zoo search --resume {out}')


class RunFiles:
    """The checkpoint and logs of one run folder; only the main process writes."""

    def __init__(self, out: Path, main: bool):
        self.out, self.main = out, main

    def save(self, state: SearchState, config: Dict[str, Any]) -> None:
        if self.main:
            atomic_torch_save(state.state_dict(config), self.out / CHECKPOINT, keep_previous=True)

    def append_evaluations(self, records: Sequence[Any]) -> None:
        if self.main:
            append_records(self.out / EVAL_LOG, records)

    def append_generation(self, record: GenerationRecord) -> None:
        if self.main:
            append_records(self.out / GENERATION_LOG, [record])

    def cut_logs_to(self, state: SearchState) -> None:
        """Drop log lines written after the checkpoint (their pair or generation is redone)."""
        if self.main:
            keep_first_lines(self.out / EVAL_LOG, state.log_lines)
            keep_first_lines(self.out / GENERATION_LOG, len(state.history))


@contextlib.contextmanager
def interrupts_deferred():
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
