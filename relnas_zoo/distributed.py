"""torchrun/DDP plumbing for the search, the trainers and the OpenMMLab tools: one process per GPU (or CPU
processes on gloo), any number of nodes."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ['DistInfo', 'init_distributed', 'all_reduce_sum', 'barrier', 'finish']


@dataclass
class DistInfo:
    rank: int = 0          # global rank (shards data)
    world: int = 1
    local_rank: int = 0    # GPU index on this node
    device: torch.device = torch.device('cpu')

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def init_distributed(device: str = 'auto') -> DistInfo:
    """Read RANK/LOCAL_RANK/WORLD_SIZE set by torchrun (several nodes included) and join the group."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local = int(os.environ.get('LOCAL_RANK', '0'))
    use_cuda = torch.cuda.is_available() and device != 'cpu'
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError(f'device={device!r}: CUDA is not available on this machine; use device=cpu')
    dev = torch.device(f'cuda:{local}' if use_cuda else 'cpu')
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend='nccl' if use_cuda else 'gloo', device_id=dev if use_cuda else None)
    return DistInfo(rank, world, local, dev)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def finish() -> None:
    """Wait for every rank, then close the process group, before the interpreter exits.

    Left to interpreter shutdown, a rank whose peer has already gone can abort in the backend's teardown
    ("terminate called without an active exception", seen with gloo after a finished mmengine run).
    """
    barrier()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
