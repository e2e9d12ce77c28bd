"""What our OpenMMLab entry points fix about this stack (see the README's OpenMMLab section).

* torch >= 2.6 loads with ``weights_only=True``; mmengine 0.10.7's full checkpoints (for ``--resume``,
  ``load_from``, ``tools/test.py``) hold a HistoryBuffer and numpy objects, which that refuses. We allow
  exactly those globals, only while our runner works, instead of switching safe loading off.
* mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` whatever the backend and wraps the model
  in DDP with ``device_ids=[LOCAL_RANK]``; on a CPU-only machine we join a gloo group ourselves and wrap
  with ``device_ids=None``. SyncBN cannot run under CPU DDP, so it becomes plain BN there.
"""
from __future__ import annotations

import builtins
import contextlib
import os
from typing import Any, Iterator, List

import numpy as np
import torch

from ..distributed import init_distributed
from ..errors import InputError

__all__ = ['checkpoint_safe_globals', 'allow_mmengine_checkpoints', 'setup_cpu_distributed', 'replace_sync_bn',
           'DataLayoutError', 'check_data', 'input_errors_in_one_line',
           'add_runner_arguments', 'load_run_config', 'build_runner']


def checkpoint_safe_globals() -> List[Any]:
    """The globals an mmengine/mmdet/mmseg/mmpose training checkpoint needs, and nothing else."""
    from mmengine.logging.history_buffer import HistoryBuffer
    items: List[Any] = [HistoryBuffer, np.ndarray, np.dtype, builtins.getattr]
    core = getattr(np, '_core', None) or np.core
    items += [core.multiarray._reconstruct, core.multiarray.scalar]
    items += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith('DType')]
    return items


@contextlib.contextmanager
def allow_mmengine_checkpoints() -> Iterator[None]:
    with torch.serialization.safe_globals(checkpoint_safe_globals()):
        yield


def setup_cpu_distributed(cfg) -> bool:
    """Under torchrun without CUDA: join a gloo group before mmengine tries CUDA; returns True if so."""
    if torch.cuda.is_available() or int(os.environ.get('WORLD_SIZE', '1')) <= 1:
        return False
    init_distributed('cpu')
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
                                 find_unused_parameters=cfg.get('find_unused_parameters', False))
    replace_sync_bn(cfg.model)  # a Config is not a dict: walk its model section
    cfg.sync_bn = None  # nor the runner's conversion of every BN layer (mmengine's sync_bn)
    return True


def replace_sync_bn(node: Any) -> Any:
    """Turn every ``type='SyncBN'`` in a config into ``'BN'`` (in place)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == 'type' and v == 'SyncBN':
                node[k] = 'BN'
            else:
                replace_sync_bn(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            replace_sync_bn(v)
    return node


def add_runner_arguments(parser) -> None:
    """The flags tools/train.py and tools/test.py share (after the positional config)."""
    import argparse
    from mmengine.config import DictAction
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default: work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value (e.g. train_dataloader.batch_size=8)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher (tools/dist_train.sh and dist_test.sh use pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)


def load_run_config(args):
    """The config file with the command line applied: launcher, --cfg-options, work dir."""
    import os.path as osp
    from mmengine.config import Config
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = (args.work_dir or cfg.get('work_dir')
                    or osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0]))
    return cfg


def build_runner(cfg):
    """mmengine's Runner, after the CPU-only distributed setup when launched by torchrun."""
    from mmengine.runner import Runner
    if cfg.launcher == 'pytorch':
        setup_cpu_distributed(cfg)
    return Runner.from_cfg(cfg)


# what each dataset type of the transfer configs expects under its data_root (docs/transfer.md, Data layouts)
DATA_LAYOUTS = {
    'VOCDataset': 'VOCdevkit/ with VOC2007/ and VOC2012/, each holding JPEGImages/, Annotations/ and ImageSets/Main/',
    'CityscapesDataset': 'cityscapes/ with leftImg8bit/{train,val}/<city>/*_leftImg8bit.png and '
                         'gtFine/{train,val}/<city>/*_gtFine_labelTrainIds.png (cityscapesscripts\' '
                         'createTrainIdLabelImgs makes them)',
    'CocoDataset': 'coco/ with train2017/, val2017/ and annotations/person_keypoints_{train,val}2017.json',
}
DATA_LAYOUTS['SimpleBaselineCocoDataset'] = DATA_LAYOUTS['CocoDataset']


class DataLayoutError(InputError, ValueError):
    """A dataset folder or annotation file of a config that is not there; the message says what is expected."""


def _datasets(node: Any, key: str) -> Iterator[tuple]:
    """(config key, dataset config) of every leaf dataset under ``node``."""
    if isinstance(node, dict):
        if 'datasets' in node:  # ConcatDataset
            for i, d in enumerate(node['datasets']):
                yield from _datasets(d, f'{key}.datasets.{i}')
        elif 'dataset' in node:  # RepeatDataset, ClassBalancedDataset
            yield from _datasets(node['dataset'], f'{key}.dataset')
        else:
            yield key, node


def check_data(cfg, loaders) -> None:
    """Raise a DataLayoutError naming the first missing data folder or annotation file of the dataloaders
    ``loaders`` (e.g. ``('train_dataloader', 'val_dataloader')``), the layout its dataset expects and how to
    point the config at the data: before the runner starts, instead of a traceback from a worker."""
    import os.path as osp
    for loader in loaders:
        if not cfg.get(loader):
            continue
        for key, ds in _datasets(cfg[loader].get('dataset'), f'{loader}.dataset'):
            root = ds.get('data_root') or ''
            wanted = [root] if root else []
            ann = ds.get('ann_file')
            if ann:
                wanted.append(ann if osp.isabs(ann) else osp.join(root, ann))
            for value in (ds.get('data_prefix') or {}).values():
                if isinstance(value, str) and value:
                    wanted.append(value if osp.isabs(value) else osp.join(root, value))
            for path in wanted:
                if not osp.exists(path):
                    layout = DATA_LAYOUTS.get(ds.get('type'), 'the layout its dataset type expects')
                    raise DataLayoutError(
                        f'{loader}: {path} does not exist. {ds.get("type", "The dataset")} expects {layout} '
                        f'(docs/transfer.md, Data layouts); link the data there or give its folder: '
                        f'--cfg-options {key}.data_root=DIR/')


@contextlib.contextmanager
def input_errors_in_one_line() -> Iterator[None]:
    """For tools/train.py and tools/test.py: a missing data folder, or weights that do not fit or cannot be
    read, end the command with one line on stderr and exit status 2 instead of a traceback."""
    import sys
    try:
        yield
    except InputError as e:  # a data layout, a misfit or an unreadable file (relnas_zoo.errors)
        print(f'error: {e}', file=sys.stderr)
        raise SystemExit(2) from None
