#!/usr/bin/env python
"""The slow-fast search: ``relnas-zoo search`` as a script (``python search/run.py --help``)."""
import sys

from relnas_zoo.cli import run_command

if __name__ == '__main__':
    sys.exit(run_command('search', prog='search/run.py'))
