#!/usr/bin/env python
"""Pack an ImageNet split into an LMDB for fast reading (relnas_zoo format: raw bytes, no pickle).

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
An interrupted build (Ctrl-C, crash, kill) resumes when the same command is run again.

Examples:
  python tools/imagenet_to_lmdb.py --root ~/ILSVRC2012 --split train --out ~/imagenet-lmdb/train --workers 16
  python tools/imagenet_to_lmdb.py --root ~/ILSVRC2012 --split val --out ~/imagenet-lmdb/val
  python tools/imagenet_to_lmdb.py --verify ~/imagenet-lmdb/val --full --compare-root ~/ILSVRC2012/val
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relnas_zoo.data.imagenet_lmdb import (BuildError, build_lmdb, scan_class_folders,  # noqa: E402
                                           scan_flat_with_labels, verify_lmdb)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--root', help='ImageNet root holding train/ and val/')
    p.add_argument('--split', choices=('train', 'val'), help='which split to pack')
    p.add_argument('--out', help='output LMDB directory (created; an unfinished build there is resumed)')
    p.add_argument('--val-labels', help='ground truth for a flat val folder: LOC_val_solution.csv or '
                                        '"<filename> <wnid or sorted-wnid index>" lines')
    p.add_argument('--devkit-meta', metavar='META_MAT',
                   help='with --val-labels ILSVRC2012_validation_ground_truth.txt: the devkit\'s data/meta.mat')
    p.add_argument('--workers', type=int, default=4, help='processes reading and checking images (default 4)')
    p.add_argument('--commit-every', type=int, default=1000,
                   help='records per LMDB transaction; an interruption loses at most this many (default 1000)')
    p.add_argument('--resize', type=int, default=0,
                   help='shrink images whose shorter side exceeds this, re-encoded as JPEG q95 (default 0: '
                        'store the original bytes)')
    p.add_argument('--on-error', choices=('skip', 'fail'), default='skip',
                   help='an unreadable image is logged with its path and skipped, or stops the build')
    p.add_argument('--map-size-gb', type=int, default=1024,
                   help='LMDB map size (a sparse upper bound, not disk use; default 1024 GiB)')
    p.add_argument('--num-classes', type=int, default=1000,
                   help='class folders train/ must hold (default 1000, ImageNet-1k); give the count of a subset, '
                        'or 0 to accept any. Folders not named like a wnid are skipped with a warning')
    p.add_argument('--verify', metavar='LMDB', help='check a built database instead of building')
    p.add_argument('--full', action='store_true', help='with --verify: decode every record, not a sample')
    p.add_argument('--compare-root', help='with --verify: check stored bytes equal the files under this split root')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    try:
        if args.verify:
            meta = verify_lmdb(args.verify, full=args.full, compare_root=args.compare_root,
                               progress=not args.no_progress)
            print(f"ok: {args.verify}: {meta['num_records']} records, {len(meta['classes'])} classes, "
                  f"{meta['checked']} decoded{', bytes equal to the source' if args.compare_root else ''}, "
                  f"{len(meta['skipped'])} source files skipped at build time")
            return 0
        if not (args.root and args.split and args.out):
            raise BuildError('--root, --split and --out are required to build (or use --verify LMDB)')
        root = Path(args.root).expanduser()
        train_classes = (scan_class_folders(root / 'train', expected_classes=args.num_classes).classes
                         if (root / 'train').is_dir() else None)
        if args.split == 'train':
            source = scan_class_folders(root / 'train', expected_classes=args.num_classes)
        elif args.val_labels:
            if train_classes is None:
                raise BuildError(f'{root / "train"} is needed for the class list (sorted wnids)')
            source = scan_flat_with_labels(root / 'val', args.val_labels, train_classes, devkit_meta=args.devkit_meta)
        else:
            source = scan_class_folders(root / 'val', classes=train_classes)
        meta = build_lmdb(source, args.out, args.split, workers=args.workers, commit_every=args.commit_every,
                          resize=args.resize, on_error=args.on_error, map_size=args.map_size_gb << 30,
                          progress=not args.no_progress)
    except BuildError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('\ninterrupted: committed records are kept; run the same command again to resume', file=sys.stderr)
        return 130
    print(f"{args.out}: {meta['num_records']} records, {len(meta['classes'])} classes, "
          f"{len(meta['skipped'])} skipped, complete={meta['complete']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
