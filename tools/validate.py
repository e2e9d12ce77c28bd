#!/usr/bin/env python
"""Evaluate a zoo model and checkpoint (ours or the authors') and print top-1/top-5 error.

  python tools/validate.py --model relativenas --checkpoint imagenet_model.pt --data ~/imagenet-lmdb/val
  python tools/validate.py --model relativenas --checkpoint model_best.pth --data ~/ILSVRC2012/val   # folders
  python tools/validate.py --model relativenas_cifar10 --checkpoint cifar10_model.pt --data ~/data/cifar10
ImageNet data is an LMDB from tools/imagenet_to_lmdb.py or a folder of class folders (sorted wnids);
CIFAR data is the python-pickle layout (its test split is used). Under torchrun the images are
sharded over the processes and every image is counted once.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import timm  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import relnas_zoo  # noqa: E402,F401
from relnas_zoo.data import DatasetError, TensorBatches, load_cifar  # noqa: E402
from relnas_zoo.train.data import ShardSampler, imagenet_dataset, imagenet_eval_transform  # noqa: E402
from relnas_zoo.train.distributed import init_distributed  # noqa: E402
from relnas_zoo.train.trainer import evaluate  # noqa: E402
from relnas_zoo.variants import VARIANTS  # noqa: E402
from relnas_zoo.weights import CheckpointMismatchError, load_checkpoint_file  # noqa: E402


class _ImageNetEval:
    def __init__(self, path, batch_size, workers, dist):
        ds = imagenet_dataset(path, imagenet_eval_transform())
        self.loader = DataLoader(ds, batch_size=batch_size, sampler=ShardSampler(len(ds), dist.rank, dist.world),
                                 num_workers=workers, pin_memory=dist.device.type == 'cuda')

    def eval_batches(self):
        return iter(self.loader)

    def eval_len(self):
        return len(self.loader)


class _CifarEval:
    def __init__(self, root, dataset, batch_size, dist):
        from relnas_zoo.timm_models import CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD
        test = load_cifar(root, dataset, train=False)
        mean, std = (CIFAR10_MEAN, CIFAR10_STD) if dataset == 'cifar10' else (CIFAR100_MEAN, CIFAR100_STD)
        self.batches = TensorBatches(test.images, test.labels, mean, std, batch_size, dist.device)
        self.dist = dist

    def eval_batches(self):
        return self.batches.epoch(shuffle=False, rank=self.dist.rank, world=self.dist.world)

    def eval_len(self):
        return -(-self.batches.shard_size(self.dist.world, shuffle=False) // self.batches.batch_size)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', required=True, choices=sorted(VARIANTS), help='registered zoo model')
    p.add_argument('--checkpoint', required=True, help='weights: our format or the authors\' state dict')
    p.add_argument('--data', required=True, help='ImageNet val LMDB/folder, or CIFAR root')
    p.add_argument('--genotype', help='genotype name or JSON when the weights are for another genotype')
    p.add_argument('--batch-size', type=int, default=256, help='images per batch and process (default 256)')
    p.add_argument('--workers', type=int, default=8, help='ImageNet DataLoader workers (default 8)')
    p.add_argument('--amp', choices=('none', 'bf16', 'fp16'), default='none', help='autocast dtype')
    p.add_argument('--device', default='auto', choices=('auto', 'cpu', 'cuda'))
    p.add_argument('--json', action='store_true', help='print a JSON record instead of text')
    args = p.parse_args(argv)

    dist = init_distributed(args.device)
    ckpt = load_checkpoint_file(args.checkpoint)
    kwargs = {}
    if args.genotype:
        kwargs['genotype'] = args.genotype
    elif isinstance(ckpt.get('arch'), dict):
        kwargs.update({k: ckpt['arch'][k] for k in ('genotype', 'C', 'layers', 'num_classes')})
    model = timm.create_model(args.model, **kwargs)
    try:
        model.load_state_dict(ckpt)
    except CheckpointMismatchError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    model.to(dist.device)
    try:
        if VARIANTS[args.model]['stem_type'] == 'imagenet':
            data = _ImageNetEval(args.data, args.batch_size, args.workers, dist)
        else:
            data = _CifarEval(args.data, 'cifar10' if model.num_classes == 10 else 'cifar100', args.batch_size, dist)
    except (DatasetError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    res = evaluate(model, data, dist.device, args.amp, progress=dist.main)
    if dist.main:
        if args.json:
            print(json.dumps(dict(model=args.model, checkpoint=args.checkpoint, **res,
                                  top1_error=100 - res['top1'], top5_error=100 - res['top5'])))
        else:
            print(f"{args.model} on {res['images']} images: top-1 error {100 - res['top1']:.2f}%, "
                  f"top-5 error {100 - res['top5']:.2f}% (top-1 {res['top1']:.2f}%, loss {res['loss']:.4f})")
    return 0


if __name__ == '__main__':
    sys.exit(main())
