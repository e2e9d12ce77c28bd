"""The search spaces a predictor works on: how each one encodes architectures and scores them
without training. One object per space, so the commands and the bench treat them alike."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from . import nb101, nb201
from ..errors import InputError

__all__ = ['SPACES', 'FEATURE_SETS', 'CODES_SETS', 'Recipe', 'Space', 'DartsSpace', 'get_space', 'same_space',
           'parse_features', 'FeatureError']

#: Named feature sets: the ReNAS tensor alone and with training-free figures beside it.
FEATURE_SETS: Dict[str, Tuple[str, ...]] = {
    'renas': (),
    'renas+cost': ('params', 'mult_adds'),
    'renas+synflow': ('synflow',),
    'renas+zc': ('params', 'mult_adds', 'synflow'),
    'renas-codes': (),
    'renas-codes+cost': ('params', 'mult_adds'),
}
#: Feature sets on ReNAS's literal type matrix (op codes) where a space's own tensor has one channel per
#: op instead (the DARTS space); elsewhere the two tensors are one and these sets are refused.
CODES_SETS = ('renas-codes', 'renas-codes+cost')


class FeatureError(InputError, ValueError):
    """A feature set or space that does not exist or does not fit; the message names it and the choices."""


def parse_features(spec: str) -> Tuple[str, int]:
    """``'renas+zc'`` -> ('renas+zc', 1); ``'renas+zc*5'`` -> an ensemble of 5 such predictors."""
    name, _, count = spec.partition('*')
    if name not in FEATURE_SETS:
        raise FeatureError(f'unknown feature set {spec!r}; choose one of {", ".join(FEATURE_SETS)} '
                           f'(append *N for an ensemble of N, e.g. renas+zc*5)')
    try:
        n = int(count) if count else 1
    except ValueError:
        n = 0
    if n < 1:
        raise FeatureError(f'{spec!r}: the ensemble size after "*" must be an int >= 1')
    return name, n


@dataclass(frozen=True)
class Recipe:
    """How a space's predictors are trained when a command or a config does not say: epochs, batch size
    and the feature set of the pair decider."""
    epochs: int
    batch_size: int
    features: str = 'renas'


class Space:
    """One search space and its facts: names, built-in tables and their metrics, how an architecture is
    written in a table (``parse_arch``, ``arch_name``), the predictor recipe, feature tensors and scores."""
    name = ''
    aliases: Tuple[str, ...] = ()   # other names a user may give for the same space
    #: ReNAS's own recipe, except where bench/README.md measured a better one
    recipe = Recipe(200, 1024)
    #: built-in tables: name -> (reader in ``tables``, the metric ranked by default); the first is the default
    builtin_tables: Dict[str, Tuple[str, str]] = {}
    file_tables = False               # whether a user's --table file can hold this space's architectures
    bench_train_sizes: Tuple[int, ...] = ()  # `predictor bench` training-set sizes when not given
    bench_variants: Tuple[str, ...] = ('renas',)

    @property
    def default_table(self) -> str:
        return next(iter(self.builtin_tables))

    def builtin_table(self, name: str):
        """A built-in table of this space, by name (a TableError naming the choices otherwise)."""
        from . import tables
        if name not in self.builtin_tables:
            raise tables.TableError(f'--table {name} does not hold {self.name} architectures; the {self.name} '
                                    f'space has {", ".join(self.builtin_tables)}')
        return getattr(tables, self.builtin_tables[name][0])()

    def default_metric(self, table: str) -> Optional[str]:
        return self.builtin_tables[table][1] if table in self.builtin_tables else None

    def parse_arch(self, text: Any) -> Any:
        """An architecture from a table cell (raises the space's own ValueError subclass)."""
        raise NotImplementedError(f'the {self.name} space is read from its built-in tables only')

    def arch_name(self, arch: Any) -> str:
        """The architecture in the space's table form (a benchmark string, a NASLib key)."""
        return str(arch)
    scores_available: Tuple[str, ...] = ()
    has_codes_tensor = False  # a second tensor with ReNAS's op-code type matrix (CODES_SETS)

    def feature_tensors(self, archs: Sequence[Any], feature_set: str = 'renas') -> np.ndarray:
        """``[n, C, N, N]`` feature tensors, the ones ``feature_set`` reads."""
        raise NotImplementedError

    def _scores(self, archs: Sequence[Any]) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def scores(self, archs: Sequence[Any], names: Sequence[str]) -> Dict[str, np.ndarray]:
        """Training-free figures by name (raw values), refused if this space has not got one."""
        missing = [n for n in names if n not in self.scores_available]
        if missing:
            raise FeatureError(f'the {self.name} space has no {", ".join(missing)} score; it has '
                               f'{", ".join(self.scores_available) or "none"}')
        table = self._scores(archs) if names else {}
        return {n: table[n] for n in names}

    def one_hot(self, archs: Sequence[Any]) -> np.ndarray:
        """``[n, k]`` the plain one-hot encoding of each architecture's choices (for baselines)."""
        raise FeatureError(f'the {self.name} space has no one-hot encoding; the rf baseline needs one')

    def check_features(self, feature_set: str) -> Tuple[str, ...]:
        """The scores a feature set needs, refused if this space has not got them."""
        names = FEATURE_SETS[feature_set]
        if feature_set in CODES_SETS and not self.has_codes_tensor:
            raise FeatureError(f'feature set {feature_set!r} is for the DARTS space (nb301, relnas), whose own '
                               f'tensor has a channel per op; the {self.name} tensor is ReNAS\'s op-code one: '
                               f'use {feature_set.replace("-codes", "")}')
        missing = [n for n in names if n not in self.scores_available]
        if missing:
            raise FeatureError(f'feature set {feature_set!r} needs {", ".join(missing)}, which the {self.name} '
                               f'space does not have; use one of '
                               f'{", ".join(k for k, v in FEATURE_SETS.items() if set(v) <= set(self.scores_available) and (self.has_codes_tensor or k not in CODES_SETS))}')
        return names

    def features(self, archs: Sequence[Any], feature_set: str) -> np.ndarray:
        """``[n, k]`` training-free figures of a feature set (params and mult-adds as logarithms)."""
        names = self.check_features(feature_set)
        if not names:
            return np.zeros((len(archs), 0))
        scores = self.scores(archs, names)
        cols = [np.log(scores[n]) if n in ('params', 'mult_adds') else scores[n] for n in names]
        return np.stack(cols, axis=1)


class NB201Space(Space):
    name = 'nb201'
    recipe = Recipe(200, 1024, 'renas+zc')  # the training-free scores rank better beside the tensor here
    scores_available = ('params', 'mult_adds', 'synflow')
    builtin_tables = {'analog-nasbench': ('analog_nasbench', 'baseline_accuracy'), 'naslib': ('naslib_nb201', 'cifar10')}
    file_tables = True
    bench_train_sizes = (78, 156, 469, 781, 1563)  # 0.5/1/3/5/10% of the space

    def __init__(self):
        self._costs = None

    def parse_arch(self, text):
        return nb201.parse_arch_string(text)

    def arch_name(self, arch):
        return nb201.to_arch_string(arch)

    def feature_tensors(self, archs, feature_set='renas'):
        if self._costs is None:
            self._costs = nb201.op_costs()
        return nb201.feature_tensors(archs, self._costs)

    def _scores(self, archs):
        from .features import SCORE_NAMES, nb201_scores_for
        table = nb201_scores_for(archs)
        return {n: table[:, i] for i, n in enumerate(SCORE_NAMES)}

    def one_hot(self, archs):
        out = np.zeros((len(archs), 6, len(nb201.OPS)), dtype=np.float32)
        for n, cell in enumerate(archs):
            for e, op in enumerate(cell):
                out[n, e, nb201.OPS.index(op)] = 1
        return out.reshape(len(archs), -1)


class NB101Space(Space):
    name = 'nb101'
    scores_available = ('params', 'mult_adds')
    builtin_tables = {'naslib': ('naslib_nb101', 'cifar10')}
    bench_train_sizes = (78, 156, 469, 781, 1563)

    def arch_name(self, arch):
        import json
        return json.dumps(dict(matrix=arch.matrix, ops=arch.ops))

    def feature_tensors(self, archs, feature_set='renas'):
        return nb101.feature_tensors(archs)

    def _scores(self, archs):
        params, flops = [], []
        for spec in archs:
            spec = nb101.prune(spec)
            params.append(nb101.network_params(spec))
            flops.append(nb101.network_mult_adds(spec))
        return dict(params=np.asarray(params, float), mult_adds=np.asarray(flops, float))


class DartsSpace(Space):
    """The DARTS space RelativeNAS searches: NAS-Bench-301 tables (NASLib's compact keys) and this package's
    genotypes (search folders, genotype files) alike; ``relnas`` is its name for a search's genotypes. Costs
    and the feature tensor's cost channels are measured on a proxy network, ``(C, layers)``: the paper's
    (16, 8) unless a search gives its own."""
    name = 'nb301'
    aliases = ('relnas',)
    scores_available = ('params', 'mult_adds')
    has_codes_tensor = True
    # ReNAS's full batches overfit the few hundred architectures a table or a search has here: smaller
    # batches and fewer epochs rank better (bench/README.md, NAS-Bench-301)
    recipe = Recipe(50, 16)
    builtin_tables = {'naslib': ('naslib_nb301', 'cifar10')}
    file_tables = True
    bench_train_sizes = (100, 200, 400, 600)  # of NASLib's 725
    bench_variants = ('renas', 'renas+cost', 'params', 'mult_adds', 'rf')  # measured beside its baselines

    def __init__(self, proxy: Optional[Tuple[int, int]] = None):
        from .genotype_space import PAPER_PROXY
        self.proxy = tuple(proxy) if proxy is not None else PAPER_PROXY

    def parse_arch(self, text):
        from .genotype_space import from_naslib_key
        return from_naslib_key(text)

    def arch_name(self, arch):
        from .genotype_space import to_naslib_key
        return to_naslib_key(arch)

    def feature_tensors(self, archs, feature_set='renas'):
        from .genotype_space import feature_tensors
        return feature_tensors(archs, op_types='codes' if feature_set in CODES_SETS else 'onehot', proxy=self.proxy)

    def _scores(self, archs):
        from .genotype_space import network_scores
        s = network_scores(archs, proxy=self.proxy)
        return dict(params=s[:, 0], mult_adds=s[:, 1])

    def one_hot(self, archs):
        from .genotype_space import one_hot
        return one_hot(archs)


_SPACE_CLASSES = (NB201Space, NB101Space, DartsSpace)
#: every name a user may give (aliases included) -> its space
SPACES = {n: cls for cls in _SPACE_CLASSES for n in (cls.name, *cls.aliases)}


def get_space(name: str, **options: Any) -> Space:
    """The space of a name or alias (``options``: the DARTS space's ``proxy``)."""
    if name not in SPACES:
        raise FeatureError(f'unknown space {name!r}; choose one of {", ".join(SPACES)}')
    return SPACES[name](**options)


def same_space(a: str, b: str) -> bool:
    """Whether two names (or aliases) name one space."""
    return SPACES[a].name == SPACES[b].name
