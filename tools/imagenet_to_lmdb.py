#!/usr/bin/env python
"""Pack an ImageNet split into an LMDB, or verify one: ``relnas-zoo pack-lmdb`` as a script (``--help``)."""
import sys

from relnas_zoo.cli import run_command

if __name__ == '__main__':
    sys.exit(run_command('pack-lmdb', prog='tools/imagenet_to_lmdb.py'))
