"""``relnas-zoo pack-lmdb`` (also tools/imagenet_to_lmdb.py): ImageNet splits into LMDBs, and their check."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Dict

from ...command_line import add_resume_argument, at_least, resumed_run_dir, show_progress, single_command
from ...config_io import ConfigError
from ...run_folder import FolderError
from .build import build_lmdb
from .errors import BuildError, LMDBError
from .sources import ImageSource, scan_class_folders, scan_flat_with_labels
from .store import read_build_meta
from .verify import verify_lmdb

__all__ = ['configure']

DESCRIPTION = """Pack an ImageNet split into an LMDB for fast reading (relnas_zoo format: raw bytes, no pickle).

Layouts read:
  train:  ROOT/train/<wnid>/*.JPEG
  val:    ROOT/val/<wnid>/*.JPEG                     (class folders), or
          ROOT/val/*.JPEG + --val-labels FILE        (LOC_val_solution.csv, or "<filename> <wnid|index>" lines)
          ROOT/val/*.JPEG + --val-labels ILSVRC2012_validation_ground_truth.txt --devkit-meta meta.mat
                                                     (the devkit: ILSVRC ids in the devkit's order, mapped
                                                     to wnids through meta.mat)
A flat val folder must hold exactly the labelled images (a missing or unlabelled file is an error).
Class indices are the positions of the wnids in the sorted list of ROOT/train's class folders (val uses
the same list), stored in the database. Original JPEG bytes are kept unless --resize is given.
An interrupted build (Ctrl-C, crash, kill) resumes with --resume OUT, or when the same command is run again.

Examples:
  relnas-zoo pack-lmdb --root ~/ILSVRC2012 --split train --out ~/imagenet-lmdb/train --workers 16
  relnas-zoo pack-lmdb --root ~/ILSVRC2012 --split val --out ~/imagenet-lmdb/val
  relnas-zoo pack-lmdb --verify ~/imagenet-lmdb/val --full --compare-root ~/ILSVRC2012/val
"""


def _arguments(p: argparse.ArgumentParser) -> None:
    p.description = DESCRIPTION
    p.add_argument('--root', help='ImageNet root holding train/ and val/')
    p.add_argument('--split', choices=('train', 'val'), help='which split to pack')
    p.add_argument('--out', help='output LMDB directory (created; an unfinished build there is resumed)')
    add_resume_argument(p, 'build')
    p.add_argument('--val-labels', help='ground truth for a flat val folder: LOC_val_solution.csv or '
                                        '"<filename> <wnid or sorted-wnid index>" lines')
    p.add_argument('--devkit-meta', metavar='META_MAT',
                   help='with --val-labels ILSVRC2012_validation_ground_truth.txt: the devkit\'s data/meta.mat')
    p.add_argument('--workers', type=at_least(1), default=4, help='processes reading and checking images (default 4)')
    p.add_argument('--commit-every', type=at_least(1), default=1000,
                   help='records per LMDB transaction; an interruption loses at most this many (default 1000)')
    p.add_argument('--resize', type=at_least(0),
                   help='shrink images whose shorter side exceeds this, re-encoded as JPEG q95 (default 0: '
                        'store the original bytes)')
    p.add_argument('--on-error', choices=('skip', 'fail'),
                   help='an unreadable image is logged with its path and skipped, or stops the build')
    p.add_argument('--map-size-gb', type=at_least(1), default=1024,
                   help='LMDB map size (a sparse upper bound, not disk use; default 1024 GiB)')
    p.add_argument('--num-classes', type=at_least(0),
                   help='class folders train/ must hold (default 1000, ImageNet-1k); give the count of a subset, '
                        'or 0 to accept any. Folders not named like a wnid are skipped with a warning')
    p.add_argument('--verify', metavar='LMDB', help='check a built database instead of building')
    p.add_argument('--full', action='store_true', help='with --verify: decode every record, not a sample')
    p.add_argument('--compare-root', help='with --verify: check stored bytes equal the files under this split root')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')


# What defines a build: saved in its metadata, so that ``--resume OUT`` continues it with the same values.
_BUILD_FIELDS = ('root', 'split', 'val_labels', 'devkit_meta', 'num_classes', 'resize', 'on_error')
_BUILD_DEFAULTS = dict(num_classes=1000, resize=0, on_error='skip')


def _given_settings(args: argparse.Namespace) -> Dict[str, Any]:
    if not (args.root and args.split and args.out):
        raise BuildError('--root, --split and --out are required to build (or use --verify LMDB, or --resume OUT)')
    settings = {k: getattr(args, k) for k in _BUILD_FIELDS}
    for key, default in _BUILD_DEFAULTS.items():
        settings[key] = default if settings[key] is None else settings[key]
    for key in ('root', 'val_labels', 'devkit_meta'):  # the saved paths must not depend on the working directory
        settings[key] = str(Path(settings[key]).expanduser().resolve()) if settings[key] else None
    return settings


def _saved_settings(out: Path) -> Dict[str, Any]:
    meta = read_build_meta(out)
    if meta is None:
        raise BuildError(f'nothing to resume: {out} holds no LMDB build')
    if 'arguments' not in meta:
        raise BuildError(f'{out} was started by an older version that did not save its settings: run the command '
                         f'that started it again to resume it')
    return dict(meta['arguments'])


def _scan(settings: Dict[str, Any]) -> ImageSource:
    root = Path(settings['root'])
    n = settings['num_classes']
    if settings['split'] == 'train':
        return scan_class_folders(root / 'train', expected_classes=n)
    # val takes train's class list (sorted wnids)
    train_classes = (scan_class_folders(root / 'train', expected_classes=n).classes
                     if (root / 'train').is_dir() else None)
    if settings['val_labels']:
        if train_classes is None:
            raise BuildError(f'{root / "train"} is needed for the class list (sorted wnids)')
        return scan_flat_with_labels(root / 'val', settings['val_labels'], train_classes,
                                     devkit_meta=settings['devkit_meta'])
    return scan_class_folders(root / 'val', classes=train_classes)


def run_packing(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    try:
        if args.verify:
            return _report_verification(args)
        if args.resume is not None:
            try:
                args.out = str(resumed_run_dir(args, 'data.mdb', {k: f'--{k.replace("_", "-")}' for k in _BUILD_FIELDS}))
            except ConfigError as e:
                raise BuildError(str(e)) from None
            settings = _saved_settings(Path(args.out))
        else:
            settings = _given_settings(args)
        meta = build_lmdb(_scan(settings), args.out, settings['split'], workers=args.workers,
                          commit_every=args.commit_every, resize=settings['resize'], on_error=settings['on_error'],
                          map_size=args.map_size_gb << 30, progress=show_progress(args), arguments=settings)
    except (LMDBError, FolderError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'\ninterrupted: committed records are kept; continue with --resume {args.out} (or the same command '
              f'again)', file=sys.stderr)
        return 130
    print(f"{args.out}: {meta['num_records']} records, {len(meta['classes'])} classes, "
          f"{len(meta['skipped'])} skipped, complete={meta['complete']}")
    return 0


def _report_verification(args: argparse.Namespace) -> int:
    """Print every bad record by index and key; exit status 2 when there is one."""
    meta = verify_lmdb(args.verify, full=args.full, compare_root=args.compare_root, progress=show_progress(args))
    for index, key, problem in meta['bad']:
        print(f'bad record {index} (key {key}): {problem}')
    checks = 'checksums and ' if meta['checksums'] else 'no checksums (an older format: rebuild for them), '
    counts = (f"{meta['num_records']} records, {len(meta['classes'])} classes, {meta['checked']} read ({checks}"
              f"decoded{', bytes compared with the source' if args.compare_root else ''}), "
              f"{len(meta['skipped'])} source files skipped at build time")
    if meta['bad']:
        print(f"error: {args.verify}: {len(meta['bad'])} bad of {meta['checked']} records read; {counts}. Rebuild "
              f"the database (relnas-zoo pack-lmdb) from the source images", file=sys.stderr)
        return 2
    print(f'ok: {args.verify}: {counts}')
    return 0


configure = single_command(_arguments, run_packing)
