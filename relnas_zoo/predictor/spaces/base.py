"""What every search space a predictor works on provides (:class:`Space`), the named feature sets and the
recipes that train a predictor on them."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...errors import InputError

__all__ = ['FEATURE_SETS', 'CODES_SETS', 'GRAPH_SET', 'Recipe', 'GRAPH_RECIPE', 'Space', 'parse_features',
           'FeatureError']

#: The feature set of a cell's path figures (:mod:`..graph_features`) and every training-free score the
#: space has, ranked by a small network of its own (no tensor): the default of every space.
GRAPH_SET = 'graph'
#: Named feature sets: the graph figures, and the ReNAS tensor alone and with training-free figures beside it.
FEATURE_SETS: Dict[str, Tuple[str, ...]] = {
    GRAPH_SET: (),
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
    """How a predictor is trained when a command or a config does not say: the feature set, and the
    :class:`~relnas_zoo.predictor.predictor.FitConfig` fields it sets."""
    epochs: int
    batch_size: int
    features: str = 'renas'
    ensemble: int = 1
    weight_decay: float = 0.0
    keep_best_epoch: bool = True  # ReNAS keeps the epoch of the best training tau

    def fit_settings(self) -> Dict[str, Any]:
        """The recipe's FitConfig fields."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != 'features'}


#: The graph set's recipe in every space (bench/README.md): five members from different seeds, every
#: training architecture in one batch, decoupled weight decay, the last epoch kept (a few dozen
#: architectures reach a perfect training tau early; the best-tau epoch would be an early one).
GRAPH_RECIPE = Recipe(300, 1024, GRAPH_SET, ensemble=5, weight_decay=1e-3, keep_best_epoch=False)


class Space:
    """One search space and its facts: names, built-in tables and their metrics, how an architecture is
    written in a table (``parse_arch``, ``arch_name``), the predictor recipe, feature tensors and scores."""
    name = ''
    aliases: Tuple[str, ...] = ()   # other names a user may give for the same space
    #: the default predictor's recipe: the graph set's
    recipe = GRAPH_RECIPE
    #: the ReNAS tensor's recipe (its feature sets): ReNAS's own, except where bench/README.md measured a better one
    renas_recipe = Recipe(200, 1024)
    #: op groups of the graph set's path figures (a group of one op: that op alone)
    op_groups: Tuple[Tuple[str, ...], ...] = ()
    #: built-in tables: name -> (reader in ``tables``, the metric ranked by default); the first is the default
    builtin_tables: Dict[str, Tuple[str, str]] = {}
    file_tables = False               # whether a user's --table file can hold this space's architectures
    bench_train_sizes: Tuple[int, ...] = ()  # `predictor bench` training-set sizes when not given
    bench_variants: Tuple[str, ...] = (GRAPH_SET, 'renas')

    @property
    def default_table(self) -> str:
        return next(iter(self.builtin_tables))

    def builtin_table(self, name: str):
        """A built-in table of this space, by name (a TableError naming the choices otherwise)."""
        from .. import tables
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

    def recipe_for(self, feature_set: str) -> Recipe:
        """The recipe that trains a predictor on ``feature_set`` here."""
        return self.recipe if feature_set == GRAPH_SET else replace(self.renas_recipe, features=feature_set)

    def fit_settings(self, spec: str, **changes: Any) -> Dict[str, Any]:
        """FitConfig fields for feature set ``spec`` (``SET`` or ``SET*N``): its recipe's, then ``changes``;
        ``*N`` sets the ensemble size, otherwise the recipe's does."""
        fs, members = parse_features(spec)
        settings = {**self.recipe_for(fs).fit_settings(), **changes}
        if '*' in spec:
            settings['ensemble'] = members
        return settings

    def feature_tensors(self, archs: Sequence[Any], feature_set: str = 'renas') -> np.ndarray:
        """``[n, C, N, N]`` feature tensors, the ones ``feature_set`` reads (``[n, 0, 1, 1]``: the graph set
        reads none)."""
        if feature_set == GRAPH_SET:
            return np.zeros((len(archs), 0, 1, 1), dtype=np.float32)
        return self._tensors(archs, feature_set)

    def _tensors(self, archs: Sequence[Any], feature_set: str) -> np.ndarray:
        raise NotImplementedError

    def cell_graphs(self, arch: Any) -> List[Any]:
        """The architecture's cells as :class:`~relnas_zoo.predictor.graph_features.CellGraph` s."""
        raise FeatureError(f'the {self.name} space has no cell graphs; the {GRAPH_SET} feature set needs them')

    def graph_features(self, archs: Sequence[Any]) -> np.ndarray:
        """``[n, k]`` the path figures of every cell graph of each architecture (each cell kind in turn)."""
        from ..graph_features import path_features
        if not archs:
            return np.zeros((0, 0))
        per_arch = [self.cell_graphs(a) for a in archs]
        return np.concatenate([path_features([graphs[k] for graphs in per_arch], self.op_groups)
                               for k in range(len(per_arch[0]))], axis=1)

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
        if feature_set == GRAPH_SET:
            if not self.op_groups:
                raise FeatureError(f'the {self.name} space has no cell graphs; use a renas feature set')
            return self.scores_available
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
        """``[n, k]`` training-free figures of a feature set (params and mult-adds as logarithms); for the
        graph set, the path figures and then every score the space has."""
        names = self.check_features(feature_set)
        graph = self.graph_features(archs) if feature_set == GRAPH_SET else np.zeros((len(archs), 0))
        if not names:
            return graph
        scores = self.scores(archs, names)
        cols = [np.log(scores[n]) if n in ('params', 'mult_adds') else scores[n] for n in names]
        return np.concatenate([graph, np.stack(cols, axis=1)], axis=1)
