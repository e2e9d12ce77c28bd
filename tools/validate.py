#!/usr/bin/env python
"""Top-1/top-5 error of a zoo model and checkpoint: ``relnas-zoo validate`` as a script (``--help``)."""
import sys

from relnas_zoo.cli import run_command

if __name__ == '__main__':
    sys.exit(run_command('validate', prog='tools/validate.py'))
