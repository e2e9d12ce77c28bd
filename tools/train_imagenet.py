#!/usr/bin/env python
"""Train a zoo network on ImageNet with the paper's recipe, under torchrun (one process per GPU).

  torchrun --nproc_per_node 8 tools/train_imagenet.py --config configs/train/imagenet.yaml \\
      --data ~/imagenet-lmdb --out runs/imagenet
  torchrun --nnodes 2 --node_rank 0 --rdzv_backend c10d --rdzv_endpoint HOST:29400 --nproc_per_node 8 \\
      tools/train_imagenet.py --config configs/train/imagenet.yaml --data ~/imagenet-lmdb --out runs/in2
  tools/dist_train_imagenet.sh configs/train/imagenet.yaml 8 --data ~/imagenet-lmdb --out runs/imagenet
--data holds train/ and val/, each an LMDB from tools/imagenet_to_lmdb.py or a folder of class folders.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relnas_zoo.train.cli import main  # noqa: E402
from relnas_zoo.train.config import recipe_path  # noqa: E402

if __name__ == '__main__':
    sys.exit(main(None, __doc__, recipe_path('imagenet')))
