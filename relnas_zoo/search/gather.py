"""Parallel mode's exchange between torchrun processes: candidates are dealt out round-robin, and every
result (with the weights it learnt) reaches every process, so Omega is updated identically on each."""
from __future__ import annotations

from typing import Any, Dict, Sequence

import torch
import torch.distributed as torch_dist

from ..distributed import DistInfo
from .estimator import CandidateResult

__all__ = ['mine', 'gather_results', 'broadcast_from_main']


def mine(position: int, dist: DistInfo) -> bool:
    """Whether this process evaluates the candidate at ``position`` of the generation's order."""
    return position % dist.world == dist.rank


def gather_results(order: Sequence[int], own: Dict[int, CandidateResult], dist: DistInfo,
                   device: torch.device) -> Dict[int, CandidateResult]:
    """Every process's results, keyed by individual, on every process (weights moved to ``device``)."""
    if dist.world == 1:
        return own
    out: Dict[int, CandidateResult] = {}
    for pos, idx in enumerate(order):
        owner = pos % dist.world
        box = [None]
        if owner == dist.rank:
            r = own[idx]
            weights = None if r.weights is None else {k: v.cpu() for k, v in r.weights.items()}
            box = [CandidateResult(r.train_loss, r.train_acc, r.val_loss, r.val_acc, r.seconds, weights)]
        torch_dist.broadcast_object_list(box, src=owner)
        r = box[0]
        if r.weights is not None:
            r.weights = {k: v.to(device) for k, v in r.weights.items()}
        out[idx] = r
    return out


def broadcast_from_main(obj: Any, dist: DistInfo) -> Any:
    """The main process's ``obj`` on every process."""
    if dist.world == 1:
        return obj
    box = [obj]
    torch_dist.broadcast_object_list(box, src=0)
    return box[0]
