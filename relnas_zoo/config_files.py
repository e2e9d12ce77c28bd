"""The search, training and transfer configs by name, from a checkout or from the installed package.

The repository's ``configs/`` and ``transfer/`` are the only copies: building the package copies them
into the wheel's ``relnas_zoo/.mim/configs/`` (``transfer/`` as ``configs/transfer/``; OpenMMLab's
layout for an installed package, with its ``tools/``), and an editable install reads them where they are.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Union

from .config_io import ConfigError

__all__ = ['config_root', 'transfer_root', 'find_config', 'list_configs', 'transfer_config', 'list_transfer_configs']

_INSTALLED = Path(__file__).resolve().parent / '.mim'
_CHECKOUT = Path(__file__).resolve().parents[1]


def config_root() -> Path:
    """The folder holding the ``search/`` and ``train/`` config folders: the installed copy, else the checkout's."""
    return _INSTALLED / 'configs' if _INSTALLED.is_dir() else _CHECKOUT / 'configs'


def transfer_root() -> Path:
    """The folder holding the transfer configs (and ``comparison/``)."""
    return _INSTALLED / 'configs' / 'transfer' if _INSTALLED.is_dir() else _CHECKOUT / 'transfer'


def list_configs(kind: str) -> List[str]:
    """Names of the ``kind`` configs (``search`` or ``train``) that ship with the package."""
    return sorted(p.stem for p in (config_root() / kind).glob('*.yaml'))


def find_config(kind: str, name_or_path: Union[str, os.PathLike]) -> str:
    """An existing file as given, or the ``kind`` config called ``name_or_path`` (e.g. ``cifar10``)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return str(path)
    named = config_root() / kind / f'{path.stem}.yaml'
    if path.parent == Path('.') and path.suffix in ('', '.yaml') and named.is_file():
        return str(named)
    raise ConfigError(f'--config {name_or_path}: no such file, and no {kind} config of that name; the '
                      f'package has {", ".join(list_configs(kind))} (or give a path)')


def transfer_config(name: Union[str, os.PathLike]) -> str:
    """The path of a transfer config: an existing file as given, or the shipped config of that name
    (``ssdlite_voc``, ``comparison/bisenet_darts_cityscapes``...), e.g. for OpenMMLab's tools:
    ``tools/train.py $(python -c "...transfer_config('ssdlite_voc')")``."""
    given = Path(name).expanduser()
    if given.is_file():
        return str(given)
    name = str(name)
    path = transfer_root() / (name if name.endswith('.py') else f'{name}.py')
    if not path.is_file():
        raise ConfigError(f'no transfer config {name!r} under {transfer_root()}; the package has '
                          f'{", ".join(list_transfer_configs())} (or give a path)')
    return str(path)


def list_transfer_configs() -> List[str]:
    """Names of the shipped transfer configs (``ssdlite_voc``, ``comparison/ssdlite_darts_voc``, ...)."""
    root = transfer_root()
    return sorted(str(p.relative_to(root).with_suffix('')) for p in root.rglob('*.py') if p.name != '__init__.py')
