"""Train a relativistic predictor (or an ensemble of them), rank with it, save and load it.

A feature set with a tensor is ranked by ReNAS's network (:class:`~.model.ReNASNet`); the graph set,
which has none (``in_channels`` 0), by a small MLP over its figures (:class:`~.model.FiguresNet`). Both
learn with ReNAS's pairwise loss, from targets, from pairs (who beat whom), or from both at once.

Training follows ReNAS's code: Adam (lr 1e-3, no weight decay), 200 epochs of batches of up to 1024,
inputs standardised entry by entry on the training set, labels min-max scaled on it (the pairwise loss
only sees their order), and the weights of the epoch with the best training tau kept. Two differences,
on purpose: the official loop calls ``optimizer.step()`` once more at the start of every epoch with the
last batch's gradients (a stray extra update), which we leave out; and a training set is split into
equal batches rather than 1024s and a remainder, so no batch is too small for BatchNorm. The optimizer is
AdamW, which is Adam itself at ReNAS's weight decay of 0 and decouples the decay the graph recipe sets.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch

from ..atomic import atomic_torch_save
from ..errors import InputError
from .model import FiguresNet, ReNASNet, pairwise_agreement, pairwise_logistic_loss

__all__ = ['FitConfig', 'RelativisticPredictor', 'PredictorFileError', 'FORMAT']

FORMAT = 'relnas_zoo-predictor'
# version 2 adds predictors without a tensor (the graph set), which a reader of version 1 would build wrongly;
# version 1 files (ReNAS's network only) read the same as ever
VERSION = 2
READABLE_VERSIONS = (1, 2)


class PredictorFileError(InputError, ValueError):
    """A predictor file that cannot be used; the message names the file and what is wrong."""


@dataclass
class FitConfig:
    epochs: int = 200
    batch_size: int = 1024
    lr: float = 1e-3
    weight_decay: float = 0.0
    ensemble: int = 1          # members trained from different seeds; predictions averaged
    seed: int = 0
    keep_best_epoch: bool = True  # ReNAS keeps the epoch with the best training tau

    def __post_init__(self):
        for name in ('epochs', 'batch_size', 'ensemble'):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f'{name}={v!r}: must be an int >= 1')
        if not self.lr > 0:
            raise ValueError(f'lr={self.lr!r}: must be > 0')


def _standardiser(x: np.ndarray):
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)  # constant entries stay 0 after centring, as in sklearn


@dataclass
class _Member:
    net: torch.nn.Module
    out_mean: float = 0.0
    out_std: float = 1.0


class RelativisticPredictor:
    """Scores architectures so that a higher score means a better architecture.

    ``tensors``: ``[n, C, N, N]`` ReNAS feature tensors (``C`` 0: none, the figures alone); ``extra``:
    ``[n, k]`` figures (or None). Fit on targets (higher is better), on explicit ``pairs`` (index of the
    better first), or on both: targets for some architectures (NaN for the others) and pairs among all.
    """

    def __init__(self, in_channels: int, grid: int, extra_features: int = 0,
                 config: Optional[FitConfig] = None, meta: Optional[Dict[str, Any]] = None):
        self.in_channels, self.grid, self.extra_features = in_channels, grid, extra_features
        self.config = config or FitConfig()
        self.meta: Dict[str, Any] = dict(meta or {})
        self.members: List[_Member] = []
        self.stats: Dict[str, np.ndarray] = {}
        self.fit_seconds = 0.0

    def _new_net(self) -> torch.nn.Module:
        if self.in_channels == 0:
            return FiguresNet(self.extra_features)
        return ReNASNet(self.in_channels, self.grid, self.extra_features)

    # ------------------------------------------------------------------ data
    def _inputs(self, tensors: np.ndarray, extra: Optional[np.ndarray]):
        tensors = np.asarray(tensors, dtype=np.float64)
        if tensors.ndim != 4 or tensors.shape[1:] != (self.in_channels, self.grid, self.grid):
            raise ValueError(f'feature tensors of shape {tensors.shape[1:]}: this predictor takes '
                             f'{(self.in_channels, self.grid, self.grid)}')
        x = (tensors.reshape(len(tensors), -1) - self.stats['x_mean']) / self.stats['x_std']
        x = torch.from_numpy(x.reshape(tensors.shape)).float()
        e = None
        if self.extra_features:
            extra = np.asarray(extra, dtype=np.float64)
            if extra.shape != (len(tensors), self.extra_features):
                raise ValueError(f'extra features of shape {extra.shape}: expected {(len(tensors), self.extra_features)}')
            e = torch.from_numpy((extra - self.stats['e_mean']) / self.stats['e_std']).float()
        return x, e

    # ------------------------------------------------------------------ training
    def fit(self, tensors: np.ndarray, extra: Optional[np.ndarray] = None, targets: Optional[Sequence[float]] = None,
            pairs: Optional[np.ndarray] = None, progress: bool = False) -> 'RelativisticPredictor':
        if targets is None and pairs is None:
            raise ValueError('fit needs targets (one per architecture), pairs (better, worse), or both')
        if self.in_channels == 0 and not self.extra_features:
            raise ValueError('a predictor without a feature tensor needs figures (extra_features > 0)')
        t0 = time.perf_counter()
        tensors = np.asarray(tensors, dtype=np.float64)
        n = len(tensors)
        if n < 2:
            raise ValueError(f'{n} training architectures: a ranking needs at least 2')
        self.stats['x_mean'], self.stats['x_std'] = _standardiser(tensors.reshape(n, -1))
        if self.extra_features:
            self.stats['e_mean'], self.stats['e_std'] = _standardiser(np.asarray(extra, dtype=np.float64))
        x, e = self._inputs(tensors, extra)
        y = p = None
        if targets is not None:
            t = np.asarray(targets, dtype=np.float64)
            known = np.isfinite(t)
            if t.shape != (n,) or not (known.all() or (pairs is not None and known.sum() >= 2)):
                raise ValueError(f'targets: expected {n} finite values (NaN allowed beside pairs), got '
                                 f'shape {t.shape} with {int(known.sum())} finite')
            span = t[known].max() - t[known].min()
            y = torch.from_numpy((t - t[known].min()) / (span if span > 0 else 1.0)).float()
        if pairs is not None:
            p = torch.as_tensor(np.asarray(pairs), dtype=torch.long)
            if p.ndim != 2 or p.shape[1] != 2 or len(p) == 0 or p.min() < 0 or p.max() >= n:
                raise ValueError(f'pairs: expected a [P, 2] array of indices in 0..{n - 1}')
        self.members = []
        from tqdm import tqdm
        bar = tqdm(total=self.config.ensemble * self.config.epochs, desc='predictor', unit='epoch',
                   disable=not progress, leave=False)
        for m in range(self.config.ensemble):
            net = self._train_member(self.config.seed + 1000 * m, x, e, y, p, bar)
            with torch.no_grad():
                out = net(x, e).double().numpy()
            self.members.append(_Member(net, float(out.mean()), float(out.std()) or 1.0))
        bar.close()
        self.fit_seconds = time.perf_counter() - t0
        return self

    def _train_member(self, seed: int, x, e, y, p, bar) -> torch.nn.Module:
        # the member's own random stream (its initial weights and dropout), apart from the caller's
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self._train_seeded_member(seed, x, e, y, p, bar)

    def _train_seeded_member(self, seed: int, x, e, y, p, bar) -> torch.nn.Module:
        cfg = self.config
        gen = torch.Generator().manual_seed(seed)
        net = self._new_net()
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        # With targets a batch is a set of architectures (all their pairs); with pairs, a set of pairs;
        # with both, one share of each per step, the two losses added.
        labelled = None if y is None else torch.nonzero(torch.isfinite(y)).view(-1)
        units = max(len(labelled) if y is not None else 0, len(p) if p is not None else 0)
        batches = max(1, math.ceil(units / cfg.batch_size))
        best, best_state = -math.inf, None
        net.train()
        for _ in range(cfg.epochs):
            arch_batches = (labelled[torch.randperm(len(labelled), generator=gen)].tensor_split(batches)
                            if y is not None else [None] * batches)
            pair_batches = (torch.randperm(len(p), generator=gen).tensor_split(batches)
                            if p is not None else [None] * batches)
            taus = []
            for idx, pidx in zip(arch_batches, pair_batches):
                terms = []
                if idx is not None and len(idx) >= 2:
                    scores = net(x[idx], e[idx] if e is not None else None)
                    terms.append(pairwise_logistic_loss(scores, y[idx]))
                    taus.append(pairwise_agreement(scores.detach(), y[idx]))
                if pidx is not None and len(pidx):
                    nodes, local = torch.unique(p[pidx], return_inverse=True)
                    if len(nodes) >= 2:
                        scores = net(x[nodes], e[nodes] if e is not None else None)
                        terms.append(pairwise_logistic_loss(scores, pairs=local))
                        taus.append(float((scores[local[:, 0]] > scores[local[:, 1]]).float().mean() * 2 - 1))
                if not terms:
                    continue
                opt.zero_grad(set_to_none=True)
                sum(terms).backward()
                opt.step()
            tau = float(np.mean(taus)) if taus else -math.inf
            if cfg.keep_best_epoch and tau > best:
                best, best_state = tau, {k: v.clone() for k, v in net.state_dict().items()}
            bar.update(1)
        if best_state is not None:
            net.load_state_dict(best_state)
        return net.eval()

    # ------------------------------------------------------------------ ranking
    @torch.no_grad()
    def predict(self, tensors: np.ndarray, extra: Optional[np.ndarray] = None, chunk: int = 512) -> np.ndarray:
        """Scores (higher: better); for an ensemble, the mean of each member's standardised scores."""
        if not self.members:
            raise RuntimeError('predict before fit: train the predictor or load one')
        x, e = self._inputs(tensors, extra)
        total = np.zeros(len(x))
        for m in self.members:
            out = torch.cat([m.net(xc, ec) for xc, ec in zip(
                x.split(chunk), e.split(chunk) if e is not None else [None] * math.ceil(len(x) / chunk))])
            total += (out.double().numpy() - m.out_mean) / m.out_std
        return total / len(self.members)

    # ------------------------------------------------------------------ files
    def state_dict(self) -> Dict[str, Any]:
        return dict(format=FORMAT, version=VERSION, in_channels=self.in_channels, grid=self.grid,
                    extra_features=self.extra_features, config=asdict(self.config), meta=self.meta,
                    stats={k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in self.stats.items()},
                    members=[dict(state=m.net.state_dict(), out_mean=m.out_mean, out_std=m.out_std)
                             for m in self.members])

    def save(self, path: Union[str, Path]) -> Path:
        path = Path(path)
        atomic_torch_save(self.state_dict(), path)
        return path

    @classmethod
    def load(cls, path: Union[str, Path]) -> 'RelativisticPredictor':
        from ..torch_files import UnreadableFileError, load_torch_file
        if not Path(path).exists():
            raise PredictorFileError(f'{path}: no such file')
        try:
            state = load_torch_file(path, 'predictor file')
        except UnreadableFileError as e:
            raise PredictorFileError(f'{path}: not a readable predictor file ({e})') from None
        return cls.from_state_dict(state, source=str(path))

    @classmethod
    def from_state_dict(cls, state: Dict[str, Any], source: str = 'predictor state') -> 'RelativisticPredictor':
        """A predictor from :meth:`state_dict` (a file's content, or a search checkpoint's entry)."""
        if not isinstance(state, dict) or state.get('format') != FORMAT:
            raise PredictorFileError(f'{source}: not a relnas_zoo predictor file (written by '
                                     f'`relnas-zoo predictor train --out ...`)')
        if state.get('version') not in READABLE_VERSIONS:
            raise PredictorFileError(f'{source}: predictor file version {state.get("version")!r}; '
                                     f'this relnas_zoo reads versions {", ".join(map(str, READABLE_VERSIONS))}')
        pred = cls(state['in_channels'], state['grid'], state['extra_features'], FitConfig(**state['config']),
                   state['meta'])
        pred.stats = {k: v.numpy() for k, v in state['stats'].items()}
        for m in state['members']:
            net = pred._new_net()
            net.load_state_dict(m['state'])
            pred.members.append(_Member(net.eval(), float(m['out_mean']), float(m['out_std'])))
        return pred
