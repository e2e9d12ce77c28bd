"""Training-free figures of NAS-Bench-201 cells (parameters, mult-adds, synflow), cached for the space.

NAS-Bench-201's figures for all 15,625 cells take about 12 minutes on 2 CPU cores, so the package ships
them (``data/nb201_cell_scores.npz``); ``relnas-zoo predictor features --space nb201`` regenerates the
file and a test recomputes a sample. The file is a plain ``.npz`` of numeric arrays, loaded with
``allow_pickle=False``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from ....atomic import atomic_write_bytes
from .cells import all_cells, to_naslib_key
from .network import NB201Network

__all__ = ['SCORE_NAMES', 'NB201_SCORES', 'cell_scores', 'build_nb201_scores', 'load_nb201_scores',
           'nb201_scores_for']

SCORE_NAMES = ('params', 'mult_adds', 'synflow')
NB201_SCORES = Path(__file__).parents[2] / 'data' / 'nb201_cell_scores.npz'


def cell_scores(cell: Sequence[str], seed: int = 0) -> Dict[str, float]:
    """Training-free figures of one cell on the real network: parameters, mult-adds (32x32 input) and
    log(1 + synflow) (Tanaka et al. 2020; data-free: all-ones input, absolute weights, float64, BN in
    eval mode with its initial statistics, summed over conv and linear weights)."""
    from ....complexity import mult_adds_by_module
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = NB201Network(cell).eval().double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    x = torch.ones(1, 3, 32, 32, dtype=torch.float64)
    mult_adds = mult_adds_by_module(net, x)['']
    net(x).sum().backward()
    synflow = sum(float((m.weight.detach() * m.weight.grad).abs().sum()) for m in net.modules()
                  if isinstance(m, (nn.Conv2d, nn.Linear)))
    return dict(params=float(sum(p.numel() for p in net.parameters())), mult_adds=float(mult_adds),
                synflow=math.log1p(synflow))




def build_nb201_scores(out: Union[str, Path], progress: bool = True,
                       cells: Optional[Sequence[Sequence[str]]] = None) -> Path:
    """Compute the figures of every cell (or of ``cells``) and write them atomically to ``out``."""
    import io

    from tqdm import tqdm
    cells = list(cells) if cells is not None else list(all_cells())
    keys = np.array([to_naslib_key(c) for c in cells], dtype=np.int8)
    values = {k: np.zeros(len(cells)) for k in SCORE_NAMES}
    threads = torch.get_num_threads()
    for i, cell in enumerate(tqdm(cells, desc='cell scores', unit='cell', disable=not progress)):
        for k, v in cell_scores(cell).items():
            values[k][i] = v
    buf = io.BytesIO()
    np.savez_compressed(buf, keys=keys, **values, torch_version=np.array(torch.__version__), threads=threads)
    out = Path(out)
    atomic_write_bytes(out, buf.getvalue())
    return out


def load_nb201_scores(path: Union[str, Path] = NB201_SCORES) -> Dict[tuple, np.ndarray]:
    """``{NASLib key: [params, mult_adds, synflow]}`` from a file written by ``build_nb201_scores``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no NAS-Bench-201 cell-score file; write one with '
                                f'`relnas-zoo predictor features --space nb201 --out {path}`')
    with np.load(path, allow_pickle=False) as f:
        missing = [k for k in ('keys', *SCORE_NAMES) if k not in f.files]
        if missing:
            raise ValueError(f'{path}: not a cell-score file (no {", ".join(missing)} array)')
        keys = f['keys']
        table = np.stack([f[k] for k in SCORE_NAMES], axis=1)
    return {tuple(int(v) for v in k): row for k, row in zip(keys, table)}


def nb201_scores_for(cells: Sequence[Sequence[str]], path: Union[str, Path] = NB201_SCORES) -> np.ndarray:
    """``[n, 3]`` figures of ``cells``, from the cache; a cell missing there is computed on the spot."""
    cache = load_nb201_scores(path) if Path(path).is_file() else {}
    rows = []
    for c in cells:
        row = cache.get(to_naslib_key(c))
        if row is None:
            s = cell_scores(c)
            row = np.array([s[k] for k in SCORE_NAMES])
        rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, len(SCORE_NAMES)))
