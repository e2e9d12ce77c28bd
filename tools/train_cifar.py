#!/usr/bin/env python
"""Train a zoo network on CIFAR-10/100 with the paper's evaluation recipe (any genotype).

  torchrun --nproc_per_node 1 tools/train_cifar.py --config configs/train/cifar10.yaml \\
      --data ~/data/cifar10 --genotype runs/s1/genotype.json --out runs/c10
  python tools/train_cifar.py --out runs/c10 --resume          # continue after an interruption
Runs on one process without torchrun too (CPU or GPU). The CIFAR python-pickle layout is read from --data.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relnas_zoo.train.cli import main  # noqa: E402
from relnas_zoo.train.config import recipe_path  # noqa: E402

if __name__ == '__main__':
    sys.exit(main(None, __doc__, recipe_path('cifar10')))
