"""The search spaces a predictor works on, one folder each (NASLib's ``search_spaces/<space>/`` layout):
every :class:`Space` carries its names, built-in tables and metrics, key parser and table names, recipe,
feature tensors and training-free scores, so the commands and the bench treat them alike."""
from __future__ import annotations

from typing import Any

from .base import CODES_SETS, FEATURE_SETS, GRAPH_RECIPE, GRAPH_SET, FeatureError, Recipe, Space, parse_features
from .darts import DartsSpace
from .nb101 import NB101Space
from .nb201 import NB201Space

__all__ = ['SPACES', 'FEATURE_SETS', 'CODES_SETS', 'GRAPH_SET', 'GRAPH_RECIPE', 'Recipe', 'Space', 'NB201Space', 'NB101Space', 'DartsSpace',
           'get_space', 'same_space', 'parse_features', 'FeatureError']

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
