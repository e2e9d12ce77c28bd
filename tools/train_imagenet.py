#!/usr/bin/env python
"""ImageNet training with the paper's recipe: ``relnas-zoo train`` as a script (``--help`` for everything)."""
import sys

from relnas_zoo.cli import run_command
from relnas_zoo.train.config import recipe_path

if __name__ == '__main__':
    sys.exit(run_command('train', prog='tools/train_imagenet.py', default_config=recipe_path('imagenet')))
