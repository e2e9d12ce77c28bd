"""Where the images of one split come from: class folders, or a flat folder with a ground-truth file.

Class indices follow the sorted wnids (the authors' packer used directory listing order, which can
differ between train and val).
"""
from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from .errors import BuildError

__all__ = ['ImageSource', 'scan_class_folders', 'scan_flat_with_labels', 'read_devkit_labels', 'IMAGE_EXTENSIONS']

log = logging.getLogger('relnas_zoo.lmdb')
IMAGE_EXTENSIONS = ('.jpeg', '.jpg', '.png')
_WNID = re.compile(r'^n\d{8}$')
PathLike = Union[str, os.PathLike]


@dataclass
class ImageSource:
    """The ordered list of (relative path, label) of one split, and its class list."""
    root: Path
    items: List[Tuple[str, int]]
    classes: List[str]

    def fingerprint(self) -> str:
        h = hashlib.sha1()
        for path, label in self.items:
            h.update(os.fsencode(path) + f'\t{label}\n'.encode())
        return h.hexdigest()


def _images_in(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def scan_class_folders(root: PathLike, classes: Optional[Sequence[str]] = None,
                       expected_classes: Optional[int] = None) -> ImageSource:
    """``root/<wnid>/<image>``; labels are positions in the sorted wnid list (or ``classes``).

    Only folders named like a wnid (``n`` + 8 digits) are classes: anything else a real disk holds
    (``lost+found``, ``.Trash-1000``, dot-folders, stray files) is skipped with one warning naming it,
    instead of silently becoming class 0 and shifting every real label. ``expected_classes`` (1000 for
    ImageNet-1k) turns another count into an error that names the flag for subsets.
    """
    root = Path(root)
    if not root.is_dir():
        raise BuildError(f'{root} is not a directory; expected class folders like {root}/n01440764/*.JPEG')
    entries = sorted(root.iterdir(), key=lambda p: p.name)
    found = [p.name for p in entries if p.is_dir() and _WNID.match(p.name)]
    skipped = [p.name + ('/' if p.is_dir() else '') for p in entries if not (p.is_dir() and _WNID.match(p.name))]
    if skipped:
        log.warning('%s: skipping %d entr%s that %s not class folders named like a wnid (n + 8 digits): %s', root,
                    len(skipped), 'y' if len(skipped) == 1 else 'ies', 'is' if len(skipped) == 1 else 'are',
                    ', '.join(skipped[:10]) + (' ...' if len(skipped) > 10 else ''))
    if not found:
        raise BuildError(f'{root} has no class folders named like a wnid; expected {root}/n01440764/*.JPEG')
    if expected_classes and classes is None and len(found) != expected_classes:
        raise BuildError(f'{root} has {len(found)} class folders, not {expected_classes}: an incomplete copy, or a '
                         f'subset (then pass --num-classes {len(found)}, or --num-classes 0 for any count)')
    classes = list(classes) if classes is not None else found
    index = {c: i for i, c in enumerate(classes)}
    unknown = [c for c in found if c not in index]
    if unknown:
        raise BuildError(f'{root}: class folders {unknown[:5]} are not in the class list of the train split')
    items = [(f'{c}/{name}', index[c]) for c in found for name in _images_in(root / c)]
    if not items:
        raise BuildError(f'{root}: the class folders hold no images ({", ".join(IMAGE_EXTENSIONS)})')
    return ImageSource(root, items, classes)


def _read_label_file(path: Path) -> Dict[str, str]:
    """filename -> wnid or index, from LOC_val_solution.csv or a 'filename label' text file."""
    labels: Dict[str, str] = {}
    if path.suffix.lower() == '.csv':
        with open(path, newline='') as f:
            for row in csv.DictReader(f):
                if 'ImageId' not in row or 'PredictionString' not in row:
                    raise BuildError(f'{path}: expected the columns ImageId,PredictionString (LOC_val_solution.csv)')
                labels[row['ImageId']] = row['PredictionString'].split()[0]
        return labels
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise BuildError(f'{path}:{n}: expected "<filename> <wnid or class index>", got {line!r}')
        labels[parts[0]] = parts[1]
    return labels


def read_devkit_labels(ground_truth: PathLike, meta_mat: PathLike) -> Dict[str, str]:
    """filename stem -> wnid from the ILSVRC2012 devkit: ``ILSVRC2012_validation_ground_truth.txt`` holds one
    ILSVRC2012_ID (1..1000, the devkit's own order, not sorted wnids) per image in file order, and
    ``meta.mat`` maps those ids to wnids."""
    try:
        from scipy.io import loadmat
    except ImportError as e:
        raise BuildError('reading meta.mat needs scipy: pip install scipy') from e
    synsets = loadmat(str(meta_mat), squeeze_me=True)['synsets']
    id_to_wnid = {int(s['ILSVRC2012_ID']): str(s['WNID']) for s in synsets if int(s['num_children']) == 0}
    labels = {}
    for n, line in enumerate(Path(ground_truth).read_text().split(), 1):
        ilsvrc_id = int(line)
        if ilsvrc_id not in id_to_wnid:
            raise BuildError(f'{ground_truth}:{n}: ILSVRC2012_ID {ilsvrc_id} is not a leaf synset of {meta_mat}')
        labels[f'ILSVRC2012_val_{n:08d}'] = id_to_wnid[ilsvrc_id]
    return labels


def scan_flat_with_labels(root: PathLike, label_file: PathLike, classes: Sequence[str],
                          devkit_meta: Optional[PathLike] = None) -> ImageSource:
    """A flat folder of images with a ground-truth file: LOC_val_solution.csv, "<filename> <wnid|index>"
    lines, or the devkit's ground-truth file with ``devkit_meta`` (its meta.mat). The folder must hold
    exactly the labelled files: a missing or an unlabelled image is an error."""
    root, label_file = Path(root), Path(label_file)
    if not label_file.is_file():
        raise BuildError(f'label file {label_file} does not exist')
    if devkit_meta is not None:
        if not Path(devkit_meta).is_file():
            raise BuildError(f'devkit meta file {devkit_meta} does not exist')
        labels = read_devkit_labels(label_file, devkit_meta)
    else:
        labels = _read_label_file(label_file)
    index = {c: i for i, c in enumerate(classes)}
    items = []
    for name in _images_in(root):
        key = name if name in labels else Path(name).stem
        if key not in labels:
            raise BuildError(f'{root / name}: no label in {label_file}')
        raw = labels[key]
        if _WNID.match(raw):
            if raw not in index:
                raise BuildError(f'{label_file}: {name} has wnid {raw}, which is not a training class')
            label = index[raw]
        elif raw.isdigit() and int(raw) < len(classes):
            label = int(raw)
        else:
            raise BuildError(f'{label_file}: label {raw!r} of {name} is neither a wnid nor an index < {len(classes)}')
        items.append((name, label))
    if not items:
        raise BuildError(f'{root} holds no images')
    present = {n for n, _ in items} | {Path(n).stem for n, _ in items}
    missing = sorted(k for k in labels if k not in present)
    if missing:
        raise BuildError(f'{root}: {len(missing)} labelled image(s) of {label_file} are missing, e.g. {missing[:3]} '
                         f'(an incomplete copy of the validation set)')
    return ImageSource(root, items, list(classes))


