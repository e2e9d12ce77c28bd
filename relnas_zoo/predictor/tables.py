"""Benchmark tables: architectures and their measured metrics, read without executing anything.

Sources:
* ``analog-nasbench`` (PyPI): all 15,625 NAS-Bench-201 cells trained on CIFAR-10. Its data file is a
  pickle; it is read with a restricted unpickler that admits its two record classes (as plain
  attribute holders of ours) and nothing else, without importing the package.
* NASLib's subsets shipped here (Apache-2.0, ``data/naslib/``): 725 NAS-Bench-201 cells (CIFAR-10,
  CIFAR-100, ImageNet16-120 validation accuracy), 500 NAS-Bench-101 cells and 725 NAS-Bench-301
  DARTS-space architectures (CIFAR-10).
* A user's CSV or JSON table with the benchmark's architecture strings (NAS-Bench-201) or NASLib's
  compact keys (NAS-Bench-301) and metric columns; a NAS-Bench-301 file in NASLib's own layout too.
* The official NATS-Bench / NAS-Bench-201 files through their own APIs (``nats_bench``, ``nas_201_api``).
* A RelativeNAS search folder: its ``generations.jsonl`` pair decisions (who beat whom).
"""
from __future__ import annotations

import csv
import importlib.util
import json
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .spaces import darts as genotype_space
from .spaces import nb101, nb201
from ..errors import InputError

__all__ = ['Table', 'TableError', 'RestrictedUnpickler', 'analog_nasbench', 'naslib_nb201', 'naslib_nb101',
           'naslib_nb301', 'read_table', 'official_nb201', 'table_from_api', 'search_log_pairs', 'NASLIB_DIR', 'ANALOG_METRICS']

NASLIB_DIR = Path(__file__).parent / 'data' / 'naslib'
ANALOG_METRICS = ('baseline_accuracy', 'ptq_accuracy', 'qat_accuracy', 'noisy_accuracy', 'analog_accuracy')


class TableError(InputError, ValueError):
    """A table that cannot be read as architectures and metrics; the message names the row and value."""


@dataclass
class Table:
    """Architectures of one space (``nb201``: cell tuples, ``nb101``: Specs, ``nb301``: Genotypes) and
    metrics per architecture."""

    space: str
    archs: List[Any]
    metrics: Dict[str, np.ndarray]
    source: str
    extra: Dict[str, Any] = field(default_factory=dict)
    labels: Dict[str, List[str]] = field(default_factory=dict)  # other columns (a name, a note), per row

    def metric(self, name: str) -> np.ndarray:
        if name not in self.metrics:
            raise TableError(f'{self.source}: no metric {name!r}; it has {", ".join(self.metrics) or "none"}')
        return self.metrics[name]

    def with_metric(self, name: str) -> Tuple[List[Any], np.ndarray]:
        """The architectures that have a finite value of ``name``, and those values."""
        values = self.metric(name)
        keep = np.flatnonzero(np.isfinite(values))
        return [self.archs[i] for i in keep], values[keep]


# ---------------------------------------------------------------------------------------- analog-nasbench
class _Record:
    """Stands in for analog-nasbench's record classes: holds the attributes the pickle sets."""


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals named in ``allowed`` (to the classes given there); anything else is
    refused with the module and name it asked for."""

    def __init__(self, file, allowed: Dict[Tuple[str, str], type]):
        super().__init__(file)
        self.allowed = allowed

    def find_class(self, module: str, name: str):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f'refused global {module}.{name}: only '
                                         f'{", ".join(f"{m}.{n}" for m, n in self.allowed)} may be loaded') from None


_ANALOG_CLASSES = {('analognasbench.data', 'Architecture'): _Record,
                   ('analognasbench.data', 'DriftMeasurement'): _Record}


def _analog_data_file() -> Path:
    spec = importlib.util.find_spec('analognasbench')  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise TableError('analog-nasbench is not installed: `pip install analog-nasbench==0.1.3` '
                         '(or relnas_zoo[nasbench]), or pass a table with --table')
    path = Path(list(spec.submodule_search_locations)[0]) / 'data.anb'
    if not path.is_file():
        raise TableError(f'{path}: analog-nasbench is installed but its data file is missing')
    return path


def analog_nasbench(path: Optional[Union[str, Path]] = None) -> Table:
    """All 15,625 NAS-Bench-201 cells with analog-nasbench's CIFAR-10 accuracies (``ANALOG_METRICS``;
    ``baseline_accuracy`` is the plain digital training)."""
    path = Path(path) if path else _analog_data_file()
    with open(path, 'rb') as f:
        data = RestrictedUnpickler(f, _ANALOG_CLASSES).load()
    if not isinstance(data, dict):
        raise TableError(f'{path}: expected a dict of records, got {type(data).__name__}')
    archs, values = [], {m: [] for m in ANALOG_METRICS}
    for key, rec in data.items():
        archs.append(nb201.from_naslib_key(key))
        for m in ANALOG_METRICS:
            v = getattr(rec, m, None)
            values[m].append(float(v) if isinstance(v, (int, float)) else math.nan)
    return Table('nb201', archs, {m: np.asarray(v) for m, v in values.items()}, f'analog-nasbench ({path.name})')


# ---------------------------------------------------------------------------------------- NASLib subsets
def _key(text: str, source: str) -> Tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.strip('() ').split(','))
    except ValueError:
        raise TableError(f'{source}: key {text!r} is not a tuple of integers') from None


def naslib_nb201(path: Optional[Union[str, Path]] = None) -> Table:
    """NASLib's 725 NAS-Bench-201 cells; metrics ``cifar10``, ``cifar100``, ``ImageNet16-120``
    (validation accuracy, 200 epochs; NaN where a cell lacks one)."""
    path = Path(path) if path else NASLIB_DIR / 'nb201_naslib_zc_725.json'
    data = json.loads(path.read_text())
    keys = sorted({k for d in data.values() for k in d})
    archs = [nb201.from_naslib_key(_key(k, str(path))) for k in keys]
    metrics = {ds: np.array([data[ds][k]['val_accuracy'] if k in data[ds] else math.nan for k in keys])
               for ds in data}
    return Table('nb201', archs, metrics, f'NASLib NAS-Bench-201 subset ({path.name})')


def naslib_nb101(path: Optional[Union[str, Path]] = None) -> Table:
    """NASLib's 500 NAS-Bench-101 cells; metric ``cifar10`` (validation accuracy, 108 epochs)."""
    path = Path(path) if path else NASLIB_DIR / 'nb101_naslib_zc_500.json'
    data = json.loads(path.read_text())['nasbench101']['cifar10']
    archs = [nb101.from_naslib_key(_key(k, str(path))) for k in data]
    return Table('nb101', archs, {'cifar10': np.array([v['val_accuracy'] for v in data.values()])},
                 f'NASLib NAS-Bench-101 subset ({path.name})')


def _is_naslib_nb301(data: Any) -> bool:
    """NASLib's layout: ``{dataset: {key: {"val_accuracy": ...}}}``."""
    return (isinstance(data, dict) and bool(data) and all(isinstance(v, dict) and v for v in data.values())
            and all(isinstance(r, dict) and 'val_accuracy' in r for v in data.values() for r in v.values()))


def naslib_nb301(path: Optional[Union[str, Path]] = None) -> Table:
    """NASLib's 725 NAS-Bench-301 architectures (this package's Genotypes); metric ``cifar10``
    (validation accuracy of the NAS-Bench-301 training data), or one metric per dataset of a file in the
    same layout."""
    path = Path(path) if path else NASLIB_DIR / 'nb301_naslib_zc_725.json'
    return _naslib_nb301_table(_json_file(path), path)


def _naslib_nb301_table(data: Any, path: Path) -> Table:
    if not _is_naslib_nb301(data):
        raise TableError(f'{path}: not NASLib\'s NAS-Bench-301 layout ({{dataset: {{key: {{"val_accuracy": ...}}}}}})')
    keys = list(dict.fromkeys(k for d in data.values() for k in d))
    archs = []
    for n, key in enumerate(keys, start=1):
        try:
            archs.append(genotype_space.from_naslib_key(key))
        except genotype_space.NASLibKeyError as e:
            raise TableError(f'{path}, row {n}: {e}') from None
    metrics = {}
    for ds, rows in data.items():
        values = []
        for n, k in enumerate(keys, start=1):
            v = rows[k]['val_accuracy'] if k in rows else math.nan
            if k in rows and not _is_number(v):
                raise TableError(f'{path}, row {n}: {ds} val_accuracy={v!r} is not a finite number')
            values.append(float(v))
        metrics[ds] = np.asarray(values)
    return Table('nb301', archs, metrics, f'NASLib NAS-Bench-301 subset ({path.name})' if path.parent == NASLIB_DIR
                 else str(path))


# ---------------------------------------------------------------------------------------- user tables
def _json_file(path: Path) -> Any:
    if not path.is_file():
        raise TableError(f'{path}: no such file')
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TableError(f'{path}: not valid JSON ({e})') from None


def _records(path: Path, data: Any = None) -> List[Dict[str, Any]]:
    """The rows of a CSV or JSON table (``data``: the JSON file's content, when already read)."""
    if not path.is_file():
        raise TableError(f'{path}: no such file')
    if path.suffix.lower() == '.csv':
        with open(path, newline='', encoding='utf-8') as f:
            return list(csv.DictReader(f))
    if path.suffix.lower() == '.json':
        data = _json_file(path) if data is None else data
        if isinstance(data, dict):  # {arch: {metric: value}}
            return [dict(_arch=k, **v) if isinstance(v, dict) else {'_arch': k, '_bad': v} for k, v in data.items()]
        if isinstance(data, list):
            return data
        raise TableError(f'{path}: expected a list of records or an {{architecture: metrics}} object')
    raise TableError(f'{path}: unknown table format {path.suffix!r}; use .csv or .json')


def _is_number(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def read_table(path: Union[str, Path], arch_column: str = 'arch', metrics: Optional[Sequence[str]] = None,
               space: str = 'nb201', require_metrics: bool = True) -> Table:
    """A table with an architecture in ``arch_column`` of each row (``space`` nb201: the benchmark's
    architecture strings; nb301: NASLib's compact keys) and numeric metric columns (all numeric columns
    when ``metrics`` is None; none needed when not ``require_metrics``, for ranking). A JSON object keyed
    by architecture also works, and for nb301 a file in NASLib's own layout."""
    from .spaces import SPACES, get_space
    path = Path(path)
    kind = get_space(space)
    if not kind.file_tables:
        raise TableError(f'a table file holds {" or ".join(n for n, c in SPACES.items() if c.file_tables and n == c.name)} '
                         f'architectures, not {space}')
    space = kind.name
    data = _json_file(path) if path.suffix.lower() == '.json' else None
    if space == 'nb301' and _is_naslib_nb301(data):
        return _naslib_nb301_table(data, path)
    rows = _records(path, data)
    if not rows:
        raise TableError(f'{path}: the table has no rows')
    if metrics is None:  # the metric columns: those the first row holds numbers in (not a name, a note)
        first = rows[0] if isinstance(rows[0], dict) else {}
        metrics = [k for k, v in first.items() if k not in (arch_column, '_arch') and _is_number(v)]
        if not metrics and require_metrics:
            raise TableError(f'{path}: no numeric metric column in row 1 (columns: {", ".join(first)})')
    archs, values = [], {m: [] for m in metrics}
    first = rows[0] if isinstance(rows[0], dict) else {}
    label_columns = [k for k in first if k not in (arch_column, '_arch', '_bad', *metrics)]
    labels: Dict[str, List[str]] = {k: [] for k in label_columns}
    for n, row in enumerate(rows, start=1):
        where = f'{path}, row {n}'
        if not isinstance(row, dict):
            raise TableError(f'{where}: expected a record of columns, got {row!r}')
        arch = row.get('_arch', row.get(arch_column))
        if arch is None:
            raise TableError(f'{where}: no architecture column {arch_column!r} (columns: {", ".join(row)}); '
                             f'name it with --arch-column')
        try:
            archs.append(kind.parse_arch(arch))
        except ValueError as e:  # the space's own error: an architecture string or key that is not one
            raise TableError(f'{where}: {e}') from None
        for m in metrics:
            if m not in row:
                raise TableError(f'{where}: no metric column {m!r}')
            if not _is_number(row[m]):
                raise TableError(f'{where}: {m}={row[m]!r} is not a finite number')
            values[m].append(float(row[m]))
        for k in label_columns:
            labels[k].append('' if row.get(k) is None else str(row[k]))
    return Table(space, archs, {m: np.asarray(v) for m, v in values.items()}, str(path), labels=labels)


def genotype_table(paths: Sequence[Union[str, Path]]) -> Table:
    """DARTS-space genotypes to rank: genotype JSON files (a search's ``genotype.json``, ``save_genotype``)
    and search folders (every genotype of every generation, labelled with where it first appeared)."""
    from ..genotypes import GenotypeError, load_genotype
    archs: List[Any] = []
    where: List[str] = []
    seen: Dict[Any, int] = {}
    for p in map(Path, paths):
        if p.is_dir():
            for g, label in search_genotypes(p):
                if g not in seen:
                    seen[g] = len(archs)
                    archs.append(g)
                    where.append(label)
        elif p.is_file():
            try:
                g = load_genotype(p)
            except (GenotypeError, ValueError, KeyError, TypeError) as e:
                raise TableError(f'{p}: not a genotype file ({e})') from None
            seen.setdefault(g, len(archs))
            if seen[g] == len(archs):
                archs.append(g)
                where.append(str(p))
        else:
            raise TableError(f'{p}: no such file or folder (give genotype .json files or search folders)')
    if not archs:
        raise TableError(f'{", ".join(map(str, paths))}: no genotypes')
    return Table('nb301', archs, {}, ', '.join(map(str, paths)), labels=dict(source=where))


def search_genotypes(run_dir: Union[str, Path]) -> List[Tuple[Any, str]]:
    """Every genotype a search folder's generations hold, with ``generation G individual K`` of each
    occurrence (``generations.jsonl``; a partly written last line is skipped)."""
    from ..search_log import SearchLogError, genotypes_in
    try:
        return genotypes_in(run_dir)
    except SearchLogError as e:
        raise TableError(str(e)) from None


def official_nb201(path: Union[str, Path], dataset: str = 'cifar10', hp: str = '200') -> Table:
    """NATS-Bench topology (``nats_bench``) or NAS-Bench-201 (``nas_201_api``) files through their own
    APIs: metrics ``valid_accuracy`` and ``test_accuracy`` of ``dataset`` (``cifar10-valid``, ``cifar10``,
    ``cifar100``, ``ImageNet16-120``)."""
    if importlib.util.find_spec('nats_bench') is not None:
        from nats_bench import create
        api = create(str(path), 'tss', fast_mode=True, verbose=False)
        info_of = lambda i: api.get_more_info(i, dataset, hp=hp, is_random=False)  # noqa: E731
    elif importlib.util.find_spec('nas_201_api') is not None:
        from nas_201_api import NASBench201API
        api = NASBench201API(str(path), verbose=False)
        # NAS-Bench-201's own API has the 200-epoch results and, on request, the 12-epoch ones
        info_of = lambda i: api.get_more_info(i, dataset, use_12epochs_result=hp == '12', is_random=False)  # noqa: E731
    else:
        raise TableError('reading the official NAS-Bench-201 / NATS-Bench files needs their API: '
                         '`pip install nats_bench` (or nas-bench-201), plus the benchmark file itself')
    return table_from_api(api, info_of, str(path))


def table_from_api(api: Any, info_of, source: str) -> Table:
    """Architectures (``api.arch(i)``, the benchmark's strings) and ``info_of(i)``'s valid/test accuracy
    for every index of an official API object."""
    archs, valid, test = [], [], []
    for i in range(len(api)):
        try:
            archs.append(nb201.parse_arch_string(api.arch(i)))
        except nb201.ArchStringError as e:
            raise TableError(f'{source}, architecture {i}: {e}') from None
        info = info_of(i)
        valid.append(float(info.get('valid-accuracy', math.nan)))
        test.append(float(info.get('test-accuracy', math.nan)))
    return Table('nb201', archs, dict(valid_accuracy=np.asarray(valid), test_accuracy=np.asarray(test)), source)


# ---------------------------------------------------------------------------------------- search logs
def search_log_pairs(run_dir: Union[str, Path]):
    """A RelativeNAS search folder's evaluated pairs: ``(genotypes, pairs)`` where each row of ``pairs``
    indexes the better (fast, lower validation loss) genotype first. Genotypes seen twice are merged;
    pairs a predictor decided are not evidence and are left out."""
    from ..search_log import SearchLogError, training_pairs
    try:
        genotypes, pairs = training_pairs(run_dir)
    except SearchLogError as e:
        raise TableError(str(e)) from None
    return genotypes, np.asarray(pairs, dtype=np.int64)
