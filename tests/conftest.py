import re

import pytest
import torch

import relnas_zoo  # noqa: F401  (registers the timm models)

torch.set_num_threads(max(1, torch.get_num_threads()))


def to_authors_layout(state_dict):
    """Rename our keys to the authors' DARTS-style layout, by the rule of the authors' code:
    ops are numbered by their position j in the genotype list (node k owns j = 2k and 2k + 1)."""
    out = {}
    for k, v in state_dict.items():
        m = re.match(r'^(cells\.\d+\.)nodes\.(\d+)\.op([12])\.(.*)$', k)
        if m:
            j = 2 * int(m.group(2)) + int(m.group(3)) - 1
            k = f'{m.group(1)}_ops.{j}.{m.group(4)}'
        out[k] = v
    return out


@pytest.fixture
def authors_layout():
    return to_authors_layout


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
