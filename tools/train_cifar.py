#!/usr/bin/env python
"""CIFAR training with the paper's recipe: ``relnas-zoo train`` with configs/train/cifar10.yaml as default."""
import sys

from relnas_zoo.cli import run_command
from relnas_zoo.train.config import recipe_path

if __name__ == '__main__':
    sys.exit(run_command('train', prog='tools/train_cifar.py', default_config=recipe_path('cifar10')))
