#!/usr/bin/env python
"""The authors' checkpoints in this package's format: ``relnas-zoo convert`` as a script (``--help``)."""
import sys

from relnas_zoo.cli import run_command

if __name__ == '__main__':
    sys.exit(run_command('convert', prog='tools/convert_checkpoint.py'))
