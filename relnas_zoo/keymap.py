"""State-dict key translation between the authors' layout and ours (pure string work, no models).

Theirs names the ops of a cell by their position in the genotype list, ``cells.{i}._ops.{j}.``; ours
names them by node, ``cells.{i}.nodes.{j // 2}.op{j % 2 + 1}.``. Everything else is spelled the same.
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, Mapping, MutableMapping, TypeVar

__all__ = ['authors_key_to_ours', 'is_authors_layout', 'strip_wrappers', 'drop_prefixed']

_AUTHORS_OP = re.compile(r'(^|\.)cells\.(\d+)\._ops\.(\d+)\.')
V = TypeVar('V')


def authors_key_to_ours(key: str) -> str:
    def repl(m: 're.Match[str]') -> str:
        j = int(m.group(3))
        return f'{m.group(1)}cells.{m.group(2)}.nodes.{j // 2}.op{j % 2 + 1}.'
    return _AUTHORS_OP.sub(repl, key)


def is_authors_layout(keys: Iterable[str]) -> bool:
    return any(_AUTHORS_OP.search(k) for k in keys)


def strip_wrappers(checkpoint: Mapping[str, V]) -> Dict[str, V]:
    """The state dict inside a checkpoint: unwrap ``state_dict``/``model`` and strip ``module.``."""
    sd = checkpoint
    for key in ('state_dict', 'model'):
        if isinstance(sd, Mapping) and isinstance(sd.get(key), Mapping):
            sd = sd[key]
            break
    out = {}
    for k, v in sd.items():
        while k.startswith('module.'):
            k = k[len('module.'):]
        out[k] = v
    return out


def drop_prefixed(state_dict: MutableMapping[str, V], prefixes: Iterable[str]) -> list:
    """Remove (in place) every key starting with one of ``prefixes``; return the removed keys."""
    prefixes = tuple(prefixes)
    if not prefixes:
        return []
    dropped = [k for k in state_dict if k.startswith(prefixes)]
    for k in dropped:
        del state_dict[k]
    return dropped
