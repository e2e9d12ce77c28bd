"""Dataclass configs from YAML files and ``--set key=value`` overrides, with errors naming the field."""
from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

import yaml

from .errors import InputError

__all__ = ['ConfigError', 'config_from_mapping', 'load_config_file', 'apply_overrides', 'field_help',
           'resumed_config']

T = TypeVar('T')


class ConfigError(InputError, ValueError):
    """A bad configuration value; the message names the field."""


def _union_members(cls: type, name: str) -> tuple:
    """The types of a ``Union[...]`` field (e.g. ``Union[str, int]``); empty for any other annotation."""
    hint = typing.get_type_hints(cls).get(name)
    if typing.get_origin(hint) is Union:
        return tuple(t for t in typing.get_args(hint) if isinstance(t, type))
    return ()


def _coerce(cls: Type[T], name: str, value: Any) -> Any:
    default = getattr(cls(), name)
    if value is None or default is None:
        return value
    kind = type(default)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f'{name}={value!r}: expected true or false')
        return value
    others = tuple(t for t in _union_members(cls, name) if t is not str)
    if kind is str and others and isinstance(value, others):
        return value  # 'auto'-or-bool / 'auto'-or-int fields (channels_last, eval_batch_size); checked() checks
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f'{name}={value!r}: expected a list')
        return kind(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = ' or '.join(t.__name__ for t in (kind,) + others)
        raise ConfigError(f'{name}={value!r}: expected {expected}')
    return value


def config_from_mapping(cls: Type[T], data: Mapping[str, Any], source: str) -> T:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f'{source}: unknown field(s) {unknown}; known: {sorted(names)}')
    cfg = cls()
    for k, v in data.items():
        setattr(cfg, k, _coerce(cls, k, v))
    return cfg


def load_config_file(cls: Type[T], path: Optional[Union[str, os.PathLike]] = None) -> T:
    if path is None:
        return cls()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f'config file {str(path)!r} does not exist')
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None)
        where = f' (line {mark.line + 1}, column {mark.column + 1})' if mark is not None else ''
        problem = getattr(e, 'problem', None) or str(e).splitlines()[0]
        raise ConfigError(f'{path}: not valid YAML{where}: {problem}') from None
    if not isinstance(data, Mapping):
        raise ConfigError(f'{path}: expected a mapping of field: value')
    return config_from_mapping(cls, data, str(path))


def apply_overrides(cfg: T, overrides: Sequence[str]) -> T:
    """Apply ``key=value`` strings; values are parsed as YAML (``lr=0.05``, ``amp=bf16``, ``subset=null``)."""
    cls = type(cfg)
    names = {f.name for f in dataclasses.fields(cls)}
    data = dataclasses.asdict(cfg)
    for item in overrides:
        if '=' not in item:
            raise ConfigError(f'--set {item!r}: expected key=value')
        key, raw = item.split('=', 1)
        key = key.strip()
        if key not in names:
            raise ConfigError(f'--set {item!r}: unknown field {key!r}; known: {sorted(names)}')
        data[key] = yaml.safe_load(raw) if raw.strip() else None
    return config_from_mapping(cls, data, '--set')


def _field_comments(cls: type) -> dict:
    """The trailing ``# comment`` of each field in the class source: the one place fields are explained."""
    import inspect
    import re
    comments: dict = {}
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return comments
    last = None
    for line in lines:
        m = re.match(r'^\s{4}(\w+)\s*:\s*[^=]+=.*?#\s*(.*)$', line)
        if m:
            last = m.group(1)
            comments[last] = m.group(2).strip()
            continue
        cont = re.match(r'^\s{8,}#\s*(.*)$', line)  # a comment continued, indented under the first
        if cont and last and comments.get(last):
            comments[last] += ' ' + cont.group(1).strip()
        elif line.strip():
            last = None
    return comments


def field_help(cls: type, defaults: Any = None) -> str:
    """One line per field with its value in ``defaults`` (a loaded config; the dataclass defaults when
    None) and its explanation, for ``--help``: the values the command will actually use."""
    defaults = cls() if defaults is None else defaults
    notes = _field_comments(cls)
    return '\n'.join(f'  {f.name:<18} {getattr(defaults, f.name)!r:<14} {notes.get(f.name, "")}'.rstrip()
                     for f in dataclasses.fields(cls))


def resumed_config(saved: T, given: T, safe_fields: Sequence[str], folder: Path,
                   job: str) -> Tuple[T, Dict[str, Tuple[Any, Any]]]:
    """A resumed run's config: its own ``saved`` one with the changes ``given`` makes to ``safe_fields``,
    and those changes (``field: (old, new)``, for the log). Any other changed field is a ConfigError
    naming it with both values: the result would match neither the run as started nor one with the new
    values."""
    changed = {f.name: (getattr(saved, f.name), getattr(given, f.name)) for f in dataclasses.fields(type(saved))
               if getattr(saved, f.name) != getattr(given, f.name)}
    refused = [f'{k} ({old!r} -> {new!r})' for k, (old, new) in changed.items() if k not in safe_fields]
    if refused:
        raise ConfigError(f'{folder / "config.yaml"} changed since the run started: {", ".join(refused)}; a resumed '
                          f'run continues with its own settings (only {", ".join(safe_fields)} may change): '
                          f'restore those values, or start a new {job} with another --out')
    for key, (_, new) in changed.items():
        setattr(saved, key, new)
    return saved, changed
