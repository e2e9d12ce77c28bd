"""``relnas-zoo train`` (also tools/train_imagenet.py and tools/train_cifar.py) and ``relnas-zoo validate``
(also tools/validate.py): the training area's commands."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
from torch.utils.data import DataLoader

from ..class_order import (near_chance, order_from_rows, read_class_order, recover_rows, reorder_model, rows_for,
                           write_class_order)
from ..command_line import add_resume_argument, at_least, resumed_run_dir, show_progress
from ..config_files import find_config, list_configs
from ..config_io import field_help
from ..data import TensorBatches, load_cifar
from ..distributed import finish, init_distributed
from ..normalization import IMAGENET_MEAN, IMAGENET_STD, mean_std
from ..variants import VARIANTS
from ..weights import create_model_for_checkpoint, load_checkpoint_file
from .config import ConfigError, TrainConfig, apply_overrides, load_train_config, recipe_path
from .data import DeviceNormalize, ShardSampler, identity, imagenet_dataset, imagenet_eval_transform, uint8_collate
from .trainer import LAST, evaluate, train

__all__ = ['configure', 'resolve_config']


def _task_override(overrides: Sequence[str]) -> Optional[str]:
    for item in overrides:
        key, _, value = item.partition('=')
        if key.strip() == 'task':
            return value.strip()
    return None


def _help_defaults(argv: Optional[Sequence[str]], default_config: str) -> Optional[TrainConfig]:
    """The config ``--help`` should show: the one this command line would load."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument('--config', default=default_config)
    known, _ = pre.parse_known_args(argv)
    try:
        return load_train_config(find_config('train', known.config))
    except ConfigError:
        return None


def resolve_config(config_arg: Optional[str], default_config: str, overrides: Sequence[str]) -> TrainConfig:
    """Load the recipe; choosing another task with ``--set task=...`` chooses that task's recipe.

    Without --config, ``task=cifar100`` loads configs/train/cifar100.yaml (batch 96, weight decay 5e-4)
    instead of patching CIFAR-10's recipe; with an explicit --config of another task it is refused, so
    nobody trains one task with another's recipe by accident.
    """
    task = _task_override(overrides)
    path = find_config('train', config_arg) if config_arg else default_config
    cfg = load_train_config(path)
    if task and task != cfg.task:
        if config_arg:
            raise ConfigError(f'task={task!r} does not match --config {config_arg} (a {cfg.task} recipe): use '
                              f'--config {recipe_path(task)} for the paper\'s {task} recipe')
        if not os.path.isfile(recipe_path(task)):
            raise ConfigError(f'task={task!r}: no recipe {recipe_path(task)}; choose imagenet, cifar10 or cifar100')
        cfg = load_train_config(recipe_path(task))
    return apply_overrides(cfg, overrides)


DESCRIPTION = """Train a zoo network with the paper's recipes (any genotype): ImageNet or CIFAR-10/100.

  torchrun --nproc_per_node 8 tools/train_imagenet.py --data ~/imagenet-lmdb --out runs/in1k
  torchrun --nproc_per_node 1 tools/train_cifar.py --data ~/data/cifar10 --genotype runs/s1/genotype.json \\
      --out runs/c10
  relnas-zoo train --config configs/train/cifar10.yaml --data ~/data/cifar10 --out runs/c10
  relnas-zoo train --resume runs/c10                   # continue after an interruption
Runs on one process without torchrun too (CPU or GPU). ImageNet data is an LMDB from relnas-zoo pack-lmdb
or class folders; CIFAR data is the python-pickle layout.
"""


def _arguments(p: argparse.ArgumentParser, argv: Sequence[str], default_config: str) -> None:
    shown = _help_defaults(argv, default_config)
    p.description = (DESCRIPTION + '\nConfig fields and the values this command uses (from --config, default '
                     f'{default_config}; override with --set key=value; values are YAML):\n'
                     + field_help(TrainConfig, shown))
    p.add_argument('--config', help=f'YAML recipe: a file, or a name of the package\'s ({", ".join(list_configs("train"))}) '
                                    f'(default: {default_config}); --set task=X without --config loads the recipe '
                                    f'of task X')
    p.add_argument('--data', help='dataset root (same as --set data=...)')
    p.add_argument('--genotype', help='genotype name or JSON file, e.g. a search\'s genotype.json '
                                      '(same as --set genotype=...)')
    p.add_argument('--out', help='run directory: last.pth (every epoch), final.pth (the result: the last epoch, '
                                 'zoo format), best_on_test.pth (epoch selected on the test set; not a result), '
                                 'log.jsonl, config.yaml, tb/')
    add_resume_argument(p, 'training')
    p.add_argument('--force', action='store_true',
                   help='start a new run in a folder that is not empty (a previous run\'s files there are replaced; '
                        'other files are kept)')
    p.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='override a config field (repeatable)')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    p.set_defaults(func=lambda args: run_training(args, default_config))


def configure(name: str, parser: argparse.ArgumentParser, argv: Sequence[str] = (),
              default_config: Optional[str] = None, **options: Any) -> None:
    """Give ``parser`` the arguments of ``train`` (``default_config``: the recipe loaded without --config)
    or ``validate``."""
    if name == 'validate':
        _validate_arguments(parser)
        parser.set_defaults(func=run_validation)
    else:
        _arguments(parser, argv, default_config or recipe_path('imagenet'))




def run_training(args: argparse.Namespace, default_config: str) -> int:
    if args.resume is not None:
        out = resumed_run_dir(args, LAST, {'config': '--config', 'overrides': '--set', 'data': '--data',
                                           'genotype': '--genotype'})
        cfg = load_train_config(out / 'config.yaml')
    else:
        if not args.out:
            raise ConfigError('--out is required (the run directory)')
        out = Path(args.out)
        extra = [f'data={args.data}'] if args.data else []
        extra += [f'genotype={args.genotype}'] if args.genotype else []
        cfg = resolve_config(args.config, default_config, [*args.overrides, *extra]).checked()
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    try:
        result = train(cfg, out, resume=args.resume is not None, progress=show_progress(args), force=args.force)
    except KeyboardInterrupt:
        print(f'\ninterrupted: the last finished epoch is saved; continue with --resume {out}', file=sys.stderr)
        return 130
    if result:
        final = result['final']
        print(f"result (final epoch {final['epoch']}, fp32): top-1 error {100 - final['top1']:.2f}%, top-5 error "
              f"{100 - final['top5']:.2f}% on {final['images']} test images -> {out / 'final.pth'}")
        best = result['best']
        print(f"(epoch {best['epoch']} had the highest test top-1, {best['top1']:.2f}%: it was selected on the "
              f"test set, so it is not a test error; weights in {out / 'best_on_test.pth'})")
    finish()
    return 0


# ---------------------------------------------------------------------------------------- validate
VALIDATE_DESCRIPTION = """Evaluate a zoo model and checkpoint (ours or the authors') and print top-1/top-5 error (fp32 by default).

  relnas-zoo validate --model relativenas --checkpoint imagenet_model.pt --data ~/imagenet-lmdb/val
  relnas-zoo validate --model relativenas --checkpoint final.pth --data ~/ILSVRC2012/val   # class folders
  relnas-zoo validate --model relativenas_cifar10 --checkpoint cifar10_model.pt --data ~/data/cifar10
  torchrun --nproc_per_node 8 tools/validate.py --model relativenas --checkpoint final.pth --data ~/in-lmdb/val
ImageNet data is an LMDB from relnas-zoo pack-lmdb or a folder of class folders (labels: sorted
wnids); CIFAR data is the python-pickle layout (its test split is used). Under torchrun the images are
sharded over the processes and every image is counted once.

Class order. A checkpoint trained with another class order (the authors' packer took classes in
os.listdir order, which depends on the file system) scores near chance against sorted wnids, and this
tool warns when top-1 is near chance. --class-order FILE (one wnid per line, the checkpoint's output 0
first) evaluates it under that order. --recover-class-order FILE finds an unknown order: it matches
outputs to classes by the assignment that maximises agreement on this data (Hungarian matching of the
confusion matrix), reports top-1 before and after, and writes the order file;
relnas-zoo convert --class-order FILE then writes a checkpoint in sorted-wnid order.
"""


class _ImageNetEval:
    def __init__(self, path, batch_size, workers, dist):
        ds = imagenet_dataset(path, imagenet_eval_transform())
        self.classes = list(ds.classes)
        self.loader = DataLoader(ds, batch_size=batch_size, sampler=ShardSampler(len(ds), dist.rank, dist.world),
                                 num_workers=workers, pin_memory=dist.device.type == 'cuda', collate_fn=uint8_collate)
        self.finish = DeviceNormalize(IMAGENET_MEAN, IMAGENET_STD)

    def eval_batches(self):
        return iter(self.loader)

    def eval_len(self):
        return len(self.loader)


class _CifarEval:
    finish = staticmethod(identity)  # the batches are normalised floats already

    def __init__(self, root, dataset, batch_size, dist):
        test = load_cifar(root, dataset, train=False)
        mean, std = mean_std(dataset)
        self.classes = list(test.classes)
        self.batches = TensorBatches(test.images, test.labels, mean, std, batch_size, dist.device)
        self.dist = dist

    def eval_batches(self):
        return self.batches.epoch(shuffle=False, rank=self.dist.rank, world=self.dist.world)

    def eval_len(self):
        return -(-self.batches.shard_size(self.dist.world, shuffle=False) // self.batches.batch_size)


def _validate_arguments(p: argparse.ArgumentParser) -> None:
    p.description = VALIDATE_DESCRIPTION
    p.add_argument('--model', required=True, choices=sorted(VARIANTS), help='registered zoo model')
    p.add_argument('--checkpoint', required=True, help='weights: our format or the authors\' state dict')
    p.add_argument('--data', required=True, help='ImageNet val LMDB/folder, or CIFAR root')
    p.add_argument('--genotype', help='genotype name or JSON when the weights are for another genotype')
    p.add_argument('--batch-size', type=at_least(1), default=256,
                   help='global batch: images per step over all processes, as in the training recipes '
                        '(default 256; each of N torchrun processes takes 256/N)')
    p.add_argument('--workers', type=at_least(0), default=8, help='ImageNet DataLoader workers per process (default 8)')
    p.add_argument('--amp', choices=('none', 'bf16', 'fp16'), default='none',
                   help='autocast dtype (default none: fp32, as the training log reports)')
    p.add_argument('--device', default='auto', choices=('auto', 'cpu', 'cuda'))
    p.add_argument('--class-order', metavar='FILE',
                   help='the checkpoint\'s class order: one wnid (class name) per line, output 0 first')
    p.add_argument('--recover-class-order', metavar='FILE',
                   help='find the checkpoint\'s class order on this data (Hungarian matching), write it to FILE, '
                        'and report top-1 before and after')
    p.add_argument('--json', action='store_true', help='print a JSON record instead of text')
    p.add_argument('--no-progress', action='store_true', help='no progress bar (for logs)')


def _report(args, res, tag=''):
    if args.json:
        return
    print(f"{args.model}{tag} on {res['images']} images: top-1 error {100 - res['top1']:.2f}%, "
          f"top-5 error {100 - res['top5']:.2f}% (top-1 {res['top1']:.2f}%, loss {res['loss']:.4f})")


def run_validation(args: argparse.Namespace) -> int:
    if args.class_order and args.recover_class_order:
        print('error: give --class-order (a known order) or --recover-class-order (find it), not both', file=sys.stderr)
        return 2
    dist = init_distributed(args.device)
    if args.batch_size % dist.world:
        print(f'error: --batch-size {args.batch_size} is global and must divide by the {dist.world} processes',
              file=sys.stderr)
        return 2
    ckpt = load_checkpoint_file(args.checkpoint)
    model = create_model_for_checkpoint(args.model, ckpt, **({'genotype': args.genotype} if args.genotype else {}))
    model.to(dist.device)
    per_process = args.batch_size // dist.world
    if VARIANTS[args.model]['stem_type'] == 'imagenet':
        data = _ImageNetEval(args.data, per_process, args.workers, dist)
    else:
        data = _CifarEval(args.data, 'cifar10' if model.num_classes == 10 else 'cifar100', per_process, dist)
    if len(data.classes) != model.num_classes:
        print(f'error: the data has {len(data.classes)} classes, the model {model.num_classes} outputs', file=sys.stderr)
        return 2
    record = dict(model=args.model, checkpoint=args.checkpoint)
    if args.class_order:
        try:
            rows = rows_for(data.classes, read_class_order(args.class_order))
        except (OSError, ValueError) as e:
            print(f'error: --class-order: {e}', file=sys.stderr)
            return 2
        reorder_model(model, rows)
        record['class_order'] = args.class_order
    confusion = None
    if args.recover_class_order:
        confusion = torch.zeros(model.num_classes, model.num_classes, dtype=torch.float64, device=dist.device)
    res = evaluate(model, data, dist.device, args.amp, progress=dist.main and show_progress(args), confusion=confusion)
    record.update(res, top1_error=100 - res['top1'], top5_error=100 - res['top5'])
    if dist.main:
        _report(args, res, ' (sorted class order)' if args.recover_class_order else '')
    if args.recover_class_order:
        rows = recover_rows(confusion.cpu().numpy())
        moved = sum(j != k for j, k in enumerate(rows))
        reorder_model(model, rows)
        after = evaluate(model, data, dist.device, args.amp, progress=dist.main and show_progress(args))
        if dist.main:
            write_class_order(args.recover_class_order, order_from_rows(data.classes, rows))
            _report(args, after, ' (recovered class order)')
            if not args.json:
                print(f'recovered order: {moved} of {len(rows)} outputs are not in sorted position; top-1 '
                      f'{res["top1"]:.2f}% -> {after["top1"]:.2f}%; order written to {args.recover_class_order} '
                      f'(relnas-zoo convert --class-order {args.recover_class_order} makes a sorted copy)')
        record.update(recovered_order=args.recover_class_order, moved_outputs=moved,
                      top1_before=res['top1'], top1_after=after['top1'], top5_after=after['top5'])
        res = after
    if dist.main:
        if near_chance(res['top1'], model.num_classes):
            print(f"warning: top-1 {res['top1']:.2f}% is near chance ({100 / model.num_classes:.2f}% for "
                  f"{model.num_classes} classes): the checkpoint may use another class order than the data's "
                  f"labels; try --recover-class-order order.txt", file=sys.stderr)
        if args.json:
            print(json.dumps(record))
    finish()
    return 0


# each reported as one line naming the file or value, exit status 2 (a bad checkpoint, data or genotype)
