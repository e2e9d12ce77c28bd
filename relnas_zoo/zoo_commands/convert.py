"""``relnas-zoo convert`` (also tools/convert_checkpoint.py): the authors' checkpoints in this package's format:
their ImageNet networks, and with ``--config`` their released transfer models (relnas_zoo/mm/released.py)."""
from __future__ import annotations

import argparse
import sys

import torch

from ..class_order import read_class_order, reorder_model, rows_for
from ..command_line import UsageError, at_least, output_file, single_command
from ..keymap import is_authors_layout, strip_wrappers
from ..networks import RelativeNASNet
from ..variants import VARIANTS
from ..weights import load_checkpoint_file, save_checkpoint

__all__ = ['configure']

DESCRIPTION = """Convert an authors' RelativeNAS checkpoint (DARTS-style keys) into a relnas_zoo checkpoint.

The output carries an arch record, so `relnas_zoo.model_from_checkpoint(out)` rebuilds the model, and
it loads anywhere our models load (timm `file=` / `checkpoint_path=`, the OpenMMLab backbone).
Dead keys (preprocess layers of cell inputs the genotype never reads) are dropped. The converted
weights are checked by running both layouts on the same random batch.

With --class-order FILE (the checkpoint's class order, one wnid per line, e.g. written by
relnas-zoo validate --recover-class-order) the classifier rows are permuted so that the converted file
uses our labels: positions in the sorted wnid list.

With --config CONFIG, SRC is one of the authors' 18 released transfer models (SSDLite on VOC, BiSeNet on
Cityscapes, SimpleBaseline on COCO; any of the six backbones) and DST an mmengine checkpoint that
OpenMMLab's tools/test.py CONFIG DST loads strictly (and load_from / init_cfg for fine-tuning). CONFIG is a
path or a shipped config name: ssdlite_voc, bisenet_cityscapes, simplebaseline_coco, or
comparison/<task>_<backbone>_<dataset> for the other backbones (docs/transfer.md has the table). A file that
does not fit is refused, naming the first key or shape and the config it belongs to. The converted model
and the file's own layout are then run on one input and their largest difference is printed.

Example:
    relnas-zoo convert imagenet_model.pt relativenas_imagenet.pth --model relativenas
    relnas-zoo convert imagenet_model.pt relativenas_sorted.pth --class-order order.txt
    relnas-zoo convert pairnas-Epoch-199.pth ssdlite_relativenas_voc.pth --config ssdlite_voc
    relnas-zoo convert model_best.pth.tar sb_mobilenetv2.pth --config comparison/simplebaseline_mobilenetv2_coco
"""


def _arguments(p: argparse.ArgumentParser) -> None:
    p.description = DESCRIPTION
    p.add_argument('src', help="authors' checkpoint (a state_dict, optionally under 'state_dict', "
                               "optionally with 'module.' prefixes)")
    p.add_argument('dst', help='output file in relnas_zoo format, or with --config an mmengine checkpoint '
                               '(written atomically)')
    p.add_argument('--config', metavar='CONFIG',
                   help='convert a released transfer model for this transfer config (path or name, e.g. '
                        'ssdlite_voc, comparison/bisenet_darts_cityscapes); needs the OpenMMLab stack')
    p.add_argument('--model', default=None, choices=sorted(VARIANTS),
                   help='registered model an ImageNet checkpoint belongs to (default: relativenas)')
    p.add_argument('--genotype', help='genotype name or JSON file, when not the model\'s own')
    p.add_argument('--num-classes', type=at_least(1), help='classifier size, when not the model\'s own')
    p.add_argument('--C', type=at_least(2), help='initial channels (even), when not the model\'s own')
    p.add_argument('--layers', type=at_least(3), help='number of cells, when not the model\'s own')
    p.add_argument('--class-order', metavar='FILE',
                   help='the checkpoint\'s class order (one wnid per line, output 0 first): rows are permuted '
                        'to sorted-wnid order')
    p.add_argument('--no-verify', action='store_true',
                   help='skip running the original and the converted layout on a random batch')


def run_released_conversion(args: argparse.Namespace) -> int:
    given = [f'--{k.replace("_", "-")}' for k in ('model', 'genotype', 'num_classes', 'C', 'layers', 'class_order')
             if getattr(args, k) is not None]
    if given:
        raise UsageError(f'{", ".join(given)} describe an ImageNet checkpoint; a transfer model\'s network comes '
                         f'from --config {args.config}: drop them')
    output_file(args.dst, 'dst', ('.pth', '.pt'))
    try:
        from ..mm.released import convert_released_file
    except ImportError as e:
        raise UsageError(f'--config needs the OpenMMLab stack ({e}): make mm, or tools/install_mm.sh PYTHON') from None
    report = convert_released_file(args.src, args.dst, args.config, verify=not args.no_verify)
    print(f'{args.src}: a released {report["task"]} model with a {report["backbone"]} backbone')
    if 'max_abs_diff' in report:
        print(f'verified: the converted model and the file\'s own layout differ by at most '
              f'{report["max_abs_diff"]:.2g} on one input (outputs up to {report["output_scale"]:.3g})')
    print(f'wrote {args.dst}: {report["tensors"]} tensors, an mmengine checkpoint for {report["config"]}\n'
          f'  test it: python tools/test.py {report["config"]} {args.dst}')
    return 0


def run_conversion(args: argparse.Namespace) -> int:
    if args.config is not None:
        return run_released_conversion(args)
    arch = dict(VARIANTS[args.model or 'relativenas'])
    for key in ('genotype', 'num_classes', 'C', 'layers'):
        if getattr(args, key) is not None:
            arch[key] = getattr(args, key)
    output_file(args.dst, 'dst', ('.pth', '.pt', '.safetensors'))
    checkpoint = load_checkpoint_file(args.src)
    has_aux = any('auxiliary_head.' in k for k in strip_wrappers(checkpoint))
    model = RelativeNASNet(**arch, auxiliary=has_aux)
    model.load_state_dict(checkpoint)
    # only the authors' layout holds the dead layers the unpruned reference needs; a file already in our
    # layout (ours, or a plain state dict of our model) has nothing to compare with
    if not args.no_verify and is_authors_layout(strip_wrappers(checkpoint)):
        reference = RelativeNASNet(**arch, auxiliary=has_aux, prune_unused=False)
        reference.load_state_dict(checkpoint)
        size = (3, 224, 224) if arch['stem_type'] == 'imagenet' else (3, 32, 32)
        x = torch.randn(2, *size)
        with torch.no_grad():
            diff = (model.eval()(x) - reference.eval()(x)).abs().max().item()
        if diff > 1e-5:
            print(f'error: converted model differs from the original layout by {diff:.3g}', file=sys.stderr)
            return 2
        print(f'verified: outputs match the original layout (max abs diff {diff:.2g})')
    if args.class_order:
        try:
            order = read_class_order(args.class_order)
            rows = rows_for(sorted(order), order)
            if len(rows) != model.num_classes:
                raise ValueError(f'{len(rows)} classes listed, the model has {model.num_classes} outputs')
        except (OSError, ValueError) as e:
            print(f'error: --class-order: {e}', file=sys.stderr)
            return 2
        reorder_model(model, rows)
        print(f'classifier rows permuted from {args.class_order} to sorted order '
              f'({sum(j != k for j, k in enumerate(rows))} of {len(rows)} moved)')
    save_checkpoint(model, args.dst)
    n_src = len(strip_wrappers(checkpoint))
    print(f'wrote {args.dst}: {len(model.state_dict())} tensors ({n_src} in the source; '
          f'{len(model.unused_state_prefixes())} unused preprocess/node modules dropped)')
    return 0


configure = single_command(_arguments, run_conversion)
