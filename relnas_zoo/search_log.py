"""The logs a search writes in its folder, as record types with their one writer and reader.

``evaluations.jsonl`` gets one :class:`CandidateRecord` per trained candidate, ``generations.jsonl`` one
:class:`GenerationRecord` per finished generation (every individual as evaluated, every pair decision, the
population's diversity). The search writes them; its summary, its plots and the predictor (which learns
from the evaluated decisions) read them through this module, which is why it sits below both the search
and the predictor. A partly written last line (a kill mid-write) is skipped by the reader.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type, TypeVar, Union

from .atomic import atomic_write_text
from .errors import InputError
from .genotypes import Genotype

__all__ = ['EVAL_LOG', 'GENERATION_LOG', 'PairRecord', 'CandidateRecord', 'IndividualRecord', 'GenerationRecord',
           'SearchLogError', 'append_records', 'keep_first_lines', 'read_generations', 'evaluated_pairs',
           'training_pairs', 'genotypes_in', 'finite_or_none']

EVAL_LOG = 'evaluations.jsonl'         # one line per trained candidate
GENERATION_LOG = 'generations.jsonl'   # one line per finished generation
PathLike = Union[str, os.PathLike]
R = TypeVar('R')


class SearchLogError(InputError, ValueError):
    """A folder that holds no search log, or a line that is not a record; the message names the file."""


def finite_or_none(v: Optional[float]) -> Optional[float]:
    """A loss as JSON can hold it: None for a missing or non-finite one."""
    return float(v) if v is not None and math.isfinite(v) else None


def _from_dict(cls: Type[R], d: Dict[str, Any]) -> R:
    """A record from a line; fields the line lacks (files of hand or of earlier versions) read as None or
    their default, keys this version does not know are ignored."""
    required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    return cls(**{**dict.fromkeys(required), **{k: v for k, v in d.items() if k in {f.name for f in fields(cls)}}})


@dataclass
class PairRecord:
    """One pair decision. ``decided``: ``evaluated`` (both trained, by their losses) or ``predicted`` (by a
    predictor's scores; no loss, the scores and their gap instead)."""
    pair: int
    i: int
    j: int
    fast: Optional[int]
    slow: Optional[int]
    loss_i: Optional[float] = None
    loss_j: Optional[float] = None
    vector_i: List[float] = field(default_factory=list)
    vector_j: List[float] = field(default_factory=list)
    decided: str = 'evaluated'
    score_i: Optional[float] = None
    score_j: Optional[float] = None
    confidence: Optional[float] = None

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        if self.decided != 'predicted':
            for k in ('score_i', 'score_j', 'confidence'):
                d.pop(k)
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> 'PairRecord':
        return _from_dict(cls, d)


@dataclass
class CandidateRecord:
    """One trained candidate (a line of ``evaluations.jsonl``)."""
    generation: int
    pair: int
    individual: int
    role: str
    vector: List[float]
    genotype: Dict[str, Any]
    train_loss: Optional[float]
    train_acc: float
    val_loss: Optional[float]
    val_acc: float
    seconds: float
    lr: float
    drop_path: float

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class IndividualRecord:
    individual: int
    vector: List[float]
    genotype: Dict[str, Any]
    val_loss: Optional[float] = None
    role: str = 'nan'
    evaluated: bool = True

    @property
    def cell(self) -> Genotype:
        return Genotype.from_dict(self.genotype)


@dataclass
class GenerationRecord:
    """One finished generation (a line of ``generations.jsonl``): the population as evaluated, before the
    slow-learners moved."""
    generation: int
    pairs: List[PairRecord]
    individuals: List[IndividualRecord]
    lr: Optional[float] = None
    drop_path: Optional[float] = None
    best_individual: Optional[int] = None
    best_val_loss: Optional[float] = None
    mean_val_loss: Optional[float] = None
    diversity: Dict[str, float] = field(default_factory=dict)
    predicted_pairs: int = 0

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d['pairs'] = [p.to_dict() for p in self.pairs]
        head = ('generation', 'lr', 'drop_path', 'best_individual', 'best_val_loss', 'mean_val_loss', 'diversity',
                'predicted_pairs')  # the order the file has always had; the lists last
        return {**{k: d.pop(k) for k in head}, **d}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> 'GenerationRecord':
        rec = _from_dict(cls, d)
        rec.pairs = [PairRecord.from_dict(p) for p in d['pairs']]
        rec.individuals = [_from_dict(IndividualRecord, x) for x in d['individuals']]
        return rec

    def best_genotype(self) -> Optional[Genotype]:
        return None if self.best_individual is None else self.individuals[self.best_individual].cell


def append_records(path: PathLike, records: Sequence[Any]) -> None:
    """Append records (anything with ``to_dict``) as JSON lines."""
    if records:
        with open(path, 'a') as f:
            f.write(''.join(json.dumps(r.to_dict()) + '\n' for r in records))


def keep_first_lines(path: PathLike, n: int) -> None:
    """Drop every line after the first ``n`` (those written after the checkpoint a run resumes from)."""
    path = Path(path)
    if path.exists():
        lines = path.read_text().splitlines(keepends=True)[:n]
        atomic_write_text(path, ''.join(lines))


def read_generations(run_dir: PathLike, strict: bool = False) -> List[GenerationRecord]:
    """The records of ``generations.jsonl`` (none where there is no such file). A partly written last line
    ends the list; with ``strict``, a line that is not a generation record is a SearchLogError."""
    path = Path(run_dir) / GENERATION_LOG
    out: List[GenerationRecord] = []
    if not path.exists():
        return out
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            if strict:
                raise SearchLogError(f'{path}, line {n}: not a generation record (JSONDecodeError: {e})') from None
            break
        try:
            out.append(GenerationRecord.from_dict(d))
        except (KeyError, TypeError, ValueError) as e:
            raise SearchLogError(f'{path}, line {n}: not a generation record ({type(e).__name__}: {e})') from None
    return out


def evaluated_pairs(record: GenerationRecord) -> List[Tuple[Genotype, Genotype]]:
    """A generation's trained pair decisions as ``(fast genotype, slow genotype)``. Pairs a predictor
    decided are left out: they are its guesses, not evidence."""
    cells = {x.individual: x.cell for x in record.individuals}
    return [(cells[p.fast], cells[p.slow]) for p in record.pairs
            if p.fast is not None and p.slow is not None and p.decided != 'predicted']


def _need_log(run_dir: PathLike) -> Path:
    path = Path(run_dir) / GENERATION_LOG
    if not path.is_file():
        raise SearchLogError(f'{path}: no such file; pass a search folder (relnas-zoo search --out)')
    return path


def training_pairs(run_dir: PathLike) -> Tuple[List[Genotype], List[Tuple[int, int]]]:
    """A search folder's evaluated pairs: ``(genotypes, pairs)``, each pair indexing the better (fast)
    genotype first. A genotype seen twice is one entry; pairs of one genotype teach nothing and are left out."""
    path = _need_log(run_dir)
    index: Dict[Genotype, int] = {}
    pairs: List[Tuple[int, int]] = []
    for rec in read_generations(run_dir, strict=True):
        try:
            decided = evaluated_pairs(rec)
        except (KeyError, TypeError, ValueError) as e:
            raise SearchLogError(f'{path}, generation {rec.generation}: not a generation record '
                                 f'({type(e).__name__}: {e})') from None
        for fast, slow in decided:
            if fast != slow:
                pairs.append((index.setdefault(fast, len(index)), index.setdefault(slow, len(index))))
    if not pairs:
        raise SearchLogError(f'{path}: no decided pairs yet')
    return list(index), pairs


def genotypes_in(run_dir: PathLike) -> List[Tuple[Genotype, str]]:
    """Every genotype of every generation of a search folder, with ``<folder>: generation G individual K``."""
    path = _need_log(run_dir)
    name = Path(run_dir).name
    try:
        out = [(x.cell, f'{name}: generation {rec.generation} individual {x.individual}')
               for rec in read_generations(run_dir, strict=True) for x in rec.individuals]
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, SearchLogError):
            raise
        raise SearchLogError(f'{path}: not a generation record ({type(e).__name__}: {e})') from None
    if not out:
        raise SearchLogError(f'{path}: no generation finished yet')
    return out
