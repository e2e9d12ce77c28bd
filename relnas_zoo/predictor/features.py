"""Training-free per-cell figures (parameters, mult-adds, synflow), cached for whole spaces.

NAS-Bench-201's figures for all 15,625 cells take about 12 minutes on 2 CPU cores, so the package ships
them (``data/nb201_cell_scores.npz``); ``relnas-zoo predictor features --space nb201`` regenerates the
file and a test recomputes a sample. The file is a plain ``.npz`` of numeric arrays, loaded with
``allow_pickle=False``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np

from ..atomic import atomic_write_bytes
from . import nb201

__all__ = ['SCORE_NAMES', 'NB201_SCORES', 'build_nb201_scores', 'load_nb201_scores', 'nb201_scores_for']

SCORE_NAMES = ('params', 'mult_adds', 'synflow')
NB201_SCORES = Path(__file__).parent / 'data' / 'nb201_cell_scores.npz'


def build_nb201_scores(out: Union[str, Path], progress: bool = True,
                       cells: Optional[Sequence[Sequence[str]]] = None) -> Path:
    """Compute the figures of every cell (or of ``cells``) and write them atomically to ``out``."""
    import io

    import torch
    from tqdm import tqdm
    cells = list(cells) if cells is not None else list(nb201.all_cells())
    keys = np.array([nb201.to_naslib_key(c) for c in cells], dtype=np.int8)
    values = {k: np.zeros(len(cells)) for k in SCORE_NAMES}
    threads = torch.get_num_threads()
    for i, cell in enumerate(tqdm(cells, desc='cell scores', unit='cell', disable=not progress)):
        for k, v in nb201.cell_scores(cell).items():
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
        row = cache.get(nb201.to_naslib_key(c))
        if row is None:
            s = nb201.cell_scores(c)
            row = np.array([s[k] for k in SCORE_NAMES])
        rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, len(SCORE_NAMES)))
