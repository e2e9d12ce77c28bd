"""Class order of a classifier: read/write order files, permute classifier rows, recover an unknown order.

Our ImageNet labels are positions in the sorted wnid list. A checkpoint trained with labels from
``os.listdir`` order (as the authors' packer did) uses an order that depends on the file system it
ran on; evaluated against sorted labels it scores near chance. An order file lists, one per line, the
wnid (class name) of each classifier output, output 0 first.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, MutableMapping, Sequence, Union

import numpy as np
import torch

from .atomic import atomic_write_text
from .errors import InputError

__all__ = ['ClassOrderError', 'read_class_order', 'write_class_order', 'rows_for', 'permute_classifier_rows', 'reorder_model', 'recover_rows',
           'order_from_rows', 'near_chance', 'CLASSIFIER_KEYS']


class ClassOrderError(InputError, ValueError):
    """A class order that does not fit the file, the data or the model; the message says how."""

PathLike = Union[str, os.PathLike]
# the layers whose output rows are classes: the classifier and the auxiliary head's classifier
CLASSIFIER_KEYS = ('classifier.weight', 'classifier.bias', 'auxiliary_head.classifier.weight',
                   'auxiliary_head.classifier.bias')


def read_class_order(path: PathLike) -> List[str]:
    names = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[:5]
        raise ClassOrderError(f'{path}: class order lists {dup} more than once')
    return names


def write_class_order(path: PathLike, order: Sequence[str]) -> None:
    atomic_write_text(path, ''.join(f'{c}\n' for c in order))


def rows_for(classes: Sequence[str], order: Sequence[str]) -> List[int]:
    """For each of our labels (``classes``, e.g. sorted wnids), the classifier output that means it."""
    if sorted(classes) != sorted(order):
        missing = sorted(set(classes) - set(order))[:5]
        extra = sorted(set(order) - set(classes))[:5]
        raise ClassOrderError(f'the class order does not hold the same classes as the data ({len(order)} vs '
                         f'{len(classes)}; missing {missing}, extra {extra})')
    where = {c: k for k, c in enumerate(order)}
    return [where[c] for c in classes]


def permute_classifier_rows(state: MutableMapping[str, torch.Tensor], rows: Sequence[int], prefix: str = '') -> None:
    """Reorder the class rows so that output j becomes the old output ``rows[j]`` (in place)."""
    index = torch.as_tensor(list(rows), dtype=torch.long)
    for key in CLASSIFIER_KEYS:
        if prefix + key in state:
            t = state[prefix + key]
            if t.shape[0] != len(index):
                raise ClassOrderError(f'{prefix + key} has {t.shape[0]} rows, the class order {len(index)}')
            state[prefix + key] = t.index_select(0, index.to(t.device)).clone()


def reorder_model(model: torch.nn.Module, rows: Sequence[int]) -> None:
    """:func:`permute_classifier_rows` on a model's own weights (through its load path)."""
    state = model.state_dict()
    permute_classifier_rows(state, rows)
    model.load_state_dict(state)


def recover_rows(confusion: np.ndarray) -> List[int]:
    """The output for each label that maximises agreement (Hungarian matching on label x output counts)."""
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError as e:
        raise ImportError('recovering a class order needs scipy: pip install "relnas_zoo[tools]"') from e
    labels, outputs = linear_sum_assignment(np.asarray(confusion, dtype=np.float64), maximize=True)
    rows = [0] * confusion.shape[0]
    for j, k in zip(labels, outputs):
        rows[int(j)] = int(k)
    return rows


def order_from_rows(classes: Sequence[str], rows: Sequence[int]) -> List[str]:
    """The order file for ``rows`` (inverse of :func:`rows_for`)."""
    order = [''] * len(rows)
    for j, k in enumerate(rows):
        order[k] = classes[j]
    return order


def near_chance(top1: float, num_classes: int, factor: float = 5.0) -> bool:
    """Top-1 (in %) below ``factor`` times chance and within 10 points of it: the labels probably mean
    other classes (1000 classes: below 0.5%; 3 classes: below 43%)."""
    chance = 100.0 / num_classes
    return num_classes > 1 and top1 < min(factor * chance, chance + 10.0)
