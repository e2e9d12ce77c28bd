"""Training and evaluation under torchrun/DDP for ImageNet and CIFAR (one engine, two recipes).

Guarantees: the global batch is split over the processes (and accumulation steps) and data is sharded
by global rank; evaluation counts every validation image exactly once (no sampler padding), in fp32 by
default, with BN running statistics averaged over the ranks first, and sums over ranks; a checkpoint
(model, optimizer, scheduler, scaler, EMA, epoch) is written atomically after every epoch; random
streams, DataLoader workers included, are re-seeded from (seed, epoch, rank) at each epoch start, so
``--resume`` continues exactly as an uninterrupted run would.

The result of a run is its final epoch (``final.pth``, the ``result`` line of log.jsonl), as the paper
reports. ``best_on_test.pth`` keeps the epoch with the highest test top-1 for inspection; it was selected
on the test set, so its accuracy is not a test result.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import atomic_torch_save, atomic_write_text, previous_path
from ..config_io import config_from_mapping, resumed_config
from ..distributed import DistInfo, all_reduce_sum, barrier, init_distributed
from ..networks import AuxOutput, RelativeNASNet
from ..precision import autocast
from ..run_folder import claim_folder
from ..seeds import derive_seed
from ..tensorboard import open_writer
from ..speedups import apply_cpu_training_speedups
from ..torch_files import load_run_checkpoint
from ..weights import arch_of, save_checkpoint
from .config import ConfigError, TrainConfig
from .data import EvalSource, build_loaders, micro_batch_size

__all__ = ['train', 'evaluate', 'AuxForward', 'build_model', 'LAST', 'BEST', 'FINAL']

log = logging.getLogger('relnas_zoo.train')
LAST = 'last.pth'
FINAL = 'final.pth'           # the last epoch's weights: the run's result
BEST = 'best_on_test.pth'     # highest test top-1 over the epochs: selected on the test set, not a result
# Fields a resumed run takes from an edited config.yaml: where the data is and how it is logged, never
# what the run computes. Any other change is refused.
RESUME_SAFE_FIELDS = ('data', 'workers', 'log_every', 'tensorboard')
# What a training run writes in its folder; --force clears exactly these before a new run there.
TRAIN_OUTPUTS = (LAST, previous_path(LAST).name, FINAL, BEST, 'log.jsonl', 'config.yaml', 'tb')


class AuxForward(nn.Module):
    """Lets DDP wrap the training forward, which returns main and auxiliary logits."""

    def __init__(self, model: RelativeNASNet):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> AuxOutput:
        return self.model.forward_with_aux(x)


def build_model(cfg: TrainConfig, num_classes: Optional[int] = None) -> RelativeNASNet:
    """The zoo model of ``cfg``; ``num_classes`` from the data (an ImageNet subset trains a smaller head)."""
    import timm
    import relnas_zoo  # noqa: F401  (registers the models)
    # built with the largest drop-path rate, ramped from 0 by set_drop_path_rate (a buffer: no recompiles)
    kwargs: Dict[str, Any] = dict(auxiliary=cfg.auxiliary_weight > 0, drop_path_rate=cfg.drop_path)
    for key in ('genotype', 'C', 'layers'):
        if getattr(cfg, key) is not None:
            kwargs[key] = getattr(cfg, key)
    if num_classes is not None:
        kwargs['num_classes'] = num_classes
    elif cfg.task == 'cifar100':
        kwargs['num_classes'] = 100
    elif cfg.task == 'cifar10':
        kwargs['num_classes'] = 10
    return timm.create_model(cfg.model, **kwargs)


def _seed_epoch(seed: int, epoch: int, rank: int) -> torch.Generator:
    s = derive_seed(seed, epoch, rank)
    torch.manual_seed(s)
    np.random.seed(s % 2 ** 32)
    random.seed(s)
    return torch.Generator().manual_seed(s)


@torch.inference_mode()
def evaluate(model: nn.Module, loader: EvalSource, device: torch.device, amp: str = 'none', progress: bool = False,
             channels_last: bool = False, confusion: Optional[torch.Tensor] = None) -> Dict[str, float]:
    """Top-1/top-5 accuracy and loss, summed over all ranks; every image counted once.

    ``confusion`` (num_classes x num_classes, on ``device``), if given, receives the counts of
    (label, top-1 output) pairs, summed over the ranks.
    """
    from tqdm import tqdm
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss, top1, top5, n
    for x, y in tqdm(loader.eval_batches(), total=loader.eval_len(), desc='eval', leave=False,
                     disable=not progress, dynamic_ncols=True):
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        x = loader.finish(x)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, amp):
            logits = model(x)
        logits = logits.float()
        top5 = logits.topk(min(5, logits.shape[1]), dim=1).indices
        hit = top5 == y[:, None]
        if confusion is not None:
            confusion.index_put_((y, top5[:, 0]), torch.ones_like(y, dtype=confusion.dtype), accumulate=True)
        sums += torch.stack([F.cross_entropy(logits, y, reduction='sum').double(), hit[:, 0].sum().double(),
                             hit.any(1).sum().double(), torch.tensor(len(y), dtype=torch.float64, device=device)])
    all_reduce_sum(sums)
    if confusion is not None:
        all_reduce_sum(confusion)
    n = max(sums[3].item(), 1.0)
    return dict(loss=sums[0].item() / n, top1=100 * sums[1].item() / n, top5=100 * sums[2].item() / n,
                images=int(sums[3].item()))


class _Logger:
    def __init__(self, out: Path, dist: DistInfo, tensorboard: bool):
        self.main = dist.main
        self.path = out / 'log.jsonl'
        self.tb = open_writer(out / 'tb', self.main and tensorboard)

    def write(self, record: Dict[str, Any], step: int) -> None:
        if not self.main:
            return
        with open(self.path, 'a') as f:
            f.write(json.dumps(record) + '\n')
        if self.tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ('epoch', 'step'):
                    self.tb.add_scalar(f"{record.get('split', 'train')}/{k}", v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def train(cfg: TrainConfig, out_dir: os.PathLike, resume: bool = False, progress: bool = True,
          force: bool = False) -> Dict[str, Any]:
    """Train ``cfg`` into ``out_dir``: ``last.pth`` each epoch, ``final.pth`` (the result, zoo format) at the end.

    ``best_on_test.pth`` keeps the epoch with the highest test top-1 for inspection; it was selected on the
    test set, so it is not a result. A new run needs an empty or new folder (``force``: replace a previous
    run's files there, keeping the rest); ``last.prev.pth`` keeps the epoch before ``last.pth``.
    """
    out = Path(out_dir)
    if resume and not (out / LAST).is_file():
        raise FileNotFoundError(f'nothing to resume: {out / LAST} does not exist')
    state = load_run_checkpoint(out / LAST, 'training checkpoint', f'relnas-zoo train --resume {out}') if resume else None
    if state is not None and 'config' in state:  # the run's own settings, with the safe changes of cfg
        saved = config_from_mapping(TrainConfig, state['config'], str(out / LAST))
        cfg, changed = resumed_config(saved, cfg, RESUME_SAFE_FIELDS, out, 'training run')
        for key, (old, new) in changed.items():
            log.info('resume: %s changed from %r to %r', key, old, new)
    cfg.checked()
    dist = init_distributed(cfg.device)
    if cfg.batch_size % (dist.world * cfg.accum_steps) or cfg.eval_batch_size % dist.world:
        raise ConfigError(f'batch_size={cfg.batch_size} must divide by processes x accum_steps = {dist.world} x '
                          f'{cfg.accum_steps}, and eval_batch_size={cfg.eval_batch_size} by {dist.world} (batch '
                          f'sizes are global)')
    if dist.device.type == 'cuda':
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick the fastest kernels
    # one run per folder: the main process holds the folder's lock until the training ends
    claim = (claim_folder(out, 'training run', LAST, TRAIN_OUTPUTS, resume, force) if dist.main
             else contextlib.nullcontext())
    with claim:
        barrier()
        checkpoint = [state] if resume else []  # emptied by _train once loaded: no frame keeps the copy
        del state
        return _train(cfg, out, dist, checkpoint, progress)


def _train(cfg: TrainConfig, out: Path, dist: DistInfo, checkpoint: List[Dict[str, Any]],
           progress: bool) -> Dict[str, Any]:
    resume = bool(checkpoint)
    from timm.utils import ModelEmaV3, distribute_bn
    from tqdm import tqdm

    device = dist.device
    progress = progress and dist.main

    loaders = build_loaders(cfg, dist)
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model = build_model(cfg, loaders.num_classes).to(device)
    if device.type == 'cpu':
        apply_cpu_training_speedups(model)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    steps_per_epoch = len(loaders) // cfg.accum_steps  # optimizer steps; a last incomplete group is dropped
    if steps_per_epoch < 1:
        raise ConfigError(f'accum_steps={cfg.accum_steps}: an epoch has only {len(loaders)} micro-batches per process')
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: cfg.lr_factor(step, steps_per_epoch))
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp == 'fp16')
    ema = ModelEmaV3(model, decay=cfg.ema_decay) if cfg.ema_decay > 0 else None
    start_epoch, best = 0, dict(top1=-1.0, epoch=-1, source='')

    if resume:
        state = checkpoint.pop()
        model.load_state_dict(state['model'])
        opt.load_state_dict(state['optimizer'])
        sched.load_state_dict(state['scheduler'])
        scaler.load_state_dict(state['scaler'])
        if ema is not None and state.get('ema') is not None:
            ema.module.load_state_dict(state['ema'])
        start_epoch, best = state['epoch'], state['best']
        del state
        log.info('resumed %s after epoch %d', out, start_epoch)
    elif dist.main:
        import yaml
        atomic_write_text(out / 'config.yaml', yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        if cfg.accum_steps > 1:
            log.info('gradient accumulation: %d micro-batches of %d images per process and step (global batch %d); '
                     'BN statistics are per micro-batch', cfg.accum_steps,
                     micro_batch_size(cfg.batch_size, dist.world, cfg.accum_steps), cfg.batch_size)

    net: nn.Module = AuxForward(model)
    if cfg.compile:
        net = torch.compile(net)
    if dist.enabled:
        net = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == 'cuda' else None)
    logger = _Logger(out, dist, cfg.tensorboard)
    if dist.main:
        log.info('training %s on %s: %d processes, %d steps/epoch of %d images per process, %d epochs',
                 cfg.model, device, dist.world, steps_per_epoch, cfg.batch_size // dist.world, cfg.epochs)
    result: Dict[str, Any] = {}
    try:
        for epoch in range(start_epoch, cfg.epochs):
            gen = _seed_epoch(cfg.seed, epoch, dist.rank)
            model.set_drop_path_rate(cfg.drop_path_at(epoch))
            net.train()
            t0 = time.perf_counter()
            sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss, correct, n
            bar = tqdm(loaders.train_batches(epoch, gen), total=steps_per_epoch * cfg.accum_steps, desc=f'epoch {epoch}',
                       disable=not progress, dynamic_ncols=True, leave=False)
            micro = iter(bar)
            for it in range(steps_per_epoch):
                opt.zero_grad(set_to_none=True)
                for k in range(cfg.accum_steps):
                    x, y = next(micro)
                    x = loaders.finish(x.to(device, non_blocking=True))
                    y = y.to(device, non_blocking=True)
                    if cfg.channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    # DDP: all-reduce gradients only on the last micro-batch of the step
                    sync = k == cfg.accum_steps - 1 or not dist.enabled
                    with (contextlib.nullcontext() if sync else net.no_sync()):
                        with autocast(device, cfg.amp):
                            outputs = net(x)
                            loss = F.cross_entropy(outputs.logits, y, label_smoothing=cfg.label_smoothing)
                            if outputs.aux_logits is not None:
                                loss = loss + cfg.auxiliary_weight * F.cross_entropy(
                                    outputs.aux_logits, y, label_smoothing=cfg.label_smoothing)
                        scaler.scale(loss / cfg.accum_steps).backward()
                    sums += torch.stack([loss.detach().double() * len(y),
                                         (outputs.logits.detach().argmax(1) == y).sum().double(),
                                         torch.tensor(len(y), dtype=torch.float64, device=device)])
                if cfg.grad_clip > 0:
                    scaler.unscale_(opt)
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                scaler.step(opt)
                scaler.update()
                sched.step()
                if ema is not None:
                    ema.update(model)
                step = epoch * steps_per_epoch + it
                if cfg.log_every and (it + 1) % cfg.log_every == 0:
                    logger.write(dict(split='train_step', epoch=epoch, step=step, loss=loss.item(),
                                      lr=opt.param_groups[0]['lr']), step)
                    bar.set_postfix(loss=f'{loss.item():.3f}')
            bar.close()
            all_reduce_sum(sums)
            seconds = time.perf_counter() - t0
            train_rec = dict(split='train', epoch=epoch, loss=sums[0].item() / max(sums[2].item(), 1),
                             top1=100 * sums[1].item() / max(sums[2].item(), 1), lr=opt.param_groups[0]['lr'],
                             drop_path=cfg.drop_path_at(epoch), seconds=seconds,
                             images_per_s=sums[2].item() / seconds)
            logger.write(train_rec, epoch)
            if dist.enabled:  # every rank evaluates, and rank 0 saves, the same BN statistics
                distribute_bn(model, dist.world, reduce=True)
                if ema is not None:
                    distribute_bn(ema.module, dist.world, reduce=True)
            evals = {'model': evaluate(model, loaders, device, cfg.eval_amp, progress, cfg.channels_last)}
            if ema is not None:
                evals['ema'] = evaluate(ema.module, loaders, device, cfg.eval_amp, progress, cfg.channels_last)
            for source, rec in evals.items():
                logger.write(dict(split='val' if source == 'model' else 'val_ema', epoch=epoch, **rec), epoch)
            source, top = max(evals.items(), key=lambda kv: kv[1]['top1'])
            improved = top['top1'] > best['top1']
            if improved:
                best = dict(top1=top['top1'], top5=top['top5'], epoch=epoch, source=source)
            last_epoch = epoch == cfg.epochs - 1
            final = evals['model']  # the run's result once the last epoch is done
            if dist.main:
                if improved:
                    best_model = model if source == 'model' else ema.module
                    save_checkpoint(best_model, out / BEST, extra=dict(
                        top1=top['top1'], top5=top['top5'], epoch=epoch, train_config=cfg.to_dict(),
                        note='selected on the test set (highest test top-1 over the epochs): not a test result'))
                if last_epoch:  # before last.pth: a run whose last.pth says "done" has its result file
                    save_checkpoint(model, out / FINAL, extra=dict(
                        top1=final['top1'], top5=final['top5'], epoch=epoch, train_config=cfg.to_dict(),
                        note='the final epoch: the run\'s result, as the paper reports'))
                atomic_torch_save(dict(format='relnas_zoo-train', epoch=epoch + 1, model=model.state_dict(),
                                  optimizer=opt.state_dict(), scheduler=sched.state_dict(),
                                  scaler=scaler.state_dict(), ema=ema.module.state_dict() if ema else None,
                                  best=best, config=cfg.to_dict(), arch=arch_of(model),
                                  rng='re-seeded from (seed, epoch, rank) at every epoch start'), out / LAST,
                                  keep_previous=True)
                log.info('epoch %d: train loss %.4f top-1 %.2f%% | val top-1 %.2f%% top-5 %.2f%% (%d images) | '
                         '%.0f img/s', epoch, train_rec['loss'], train_rec['top1'], evals['model']['top1'],
                         evals['model']['top5'], evals['model']['images'], train_rec['images_per_s'])
            if last_epoch:
                logger.write(dict(split='result', epoch=epoch, top1=final['top1'], top5=final['top5'],
                                  top1_error=100 - final['top1'], top5_error=100 - final['top5'],
                                  images=final['images'], precision='fp32' if cfg.eval_amp == 'none' else cfg.eval_amp,
                                  note='final epoch; best_on_test.pth is selected on the test set'), epoch)
            barrier()
            result = dict(epoch=epoch, train=train_rec, val=final, best=best, final=dict(epoch=epoch, **final))
    finally:
        logger.close()
    return result
