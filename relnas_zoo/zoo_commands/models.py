"""The zoo's own commands: ``info``, ``list``, ``demo``, ``plot``, ``export`` and ``bench``."""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable, Dict, List, Sequence

from ..latency import RUNTIMES
from ..complexity import Complexity, count_mult_adds, measure
from ..command_line import UsageError, at_least, output_file
from ..genotypes import PUBLISHED, resolve_genotype
from ..variants import VARIANTS

__all__ = ['configure']


def _add_model_overrides(parser: argparse.ArgumentParser, input_size_help: str) -> None:
    """The flags ``_model_kwargs`` and ``_input_size`` read."""
    parser.add_argument('--genotype', help='genotype name or JSON file replacing the model\'s own')
    parser.add_argument('--C', type=at_least(2), help='initial channels override (even)')
    parser.add_argument('--layers', type=at_least(3), help='number of cells override')
    parser.add_argument('--num-classes', type=at_least(1), dest='num_classes', help='classifier outputs override')
    parser.add_argument('--input-size', type=at_least(1), nargs=2, metavar=('H', 'W'), help=input_size_help)


def _model_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    kwargs: Dict[str, Any] = {}
    if getattr(args, 'genotype', None):
        kwargs['genotype'] = args.genotype
    for key in ('C', 'layers', 'num_classes'):
        value = getattr(args, key, None)
        if value is not None:
            kwargs[key] = value
    return kwargs


def _input_size(args: argparse.Namespace, model_name: str) -> Sequence[int]:
    if not getattr(args, 'input_size', None):
        return ()
    import timm
    chans = timm.models.get_pretrained_cfg(model_name).input_size[0]
    return (chans, *args.input_size)


def _info_record(name: str, c: Complexity, size: Sequence[int], kwargs: Dict[str, Any]) -> Dict[str, Any]:
    return dict(model=name, overrides={k: str(v) for k, v in kwargs.items()}, input_size=list(size),
                params=c.params, mult_adds=c.mult_adds, published_params=c.published_params,
                published_mult_adds=c.published_mult_adds, dead_params=c.dead_params,
                dead_mult_adds=c.dead_mult_adds, feature_info=c.feature_info)


def _print_info(rec: Dict[str, Any]) -> None:
    size = 'x'.join(map(str, rec['input_size']))
    over = ', '.join(f'{k}={v}' for k, v in rec['overrides'].items())
    print(f"{rec['model']}{' (' + over + ')' if over else ''} at {size}")
    print(f"  {'':<14}{'params':>12}{'mult-adds':>14}")
    print(f"  {'live':<14}{rec['params']:>12,}{rec['mult_adds'] / 1e6:>12.2f} M")
    print(f"  {'as published':<14}{rec['published_params']:>12,}{rec['published_mult_adds'] / 1e6:>12.2f} M")
    print(f"  {'dead weights':<14}{rec['dead_params']:>12,}{rec['dead_mult_adds'] / 1e6:>12.2f} M"
          f"   (cell inputs the genotype never reads; skipped here, run by the authors' code)")
    h, w = rec['input_size'][1:]
    print('  feature levels (features_only=True, out_indices):')
    print(f"    {'index':<6}{'module':<10}{'stride':>7}{'channels':>10}{'size':>10}")
    for i, f in enumerate(rec['feature_info']):
        r = f['reduction']
        print(f"    {i:<6}{f['module']:<10}{r:>7}{f['num_chs']:>10}{f'{-(-h // r)}x{-(-w // r)}':>10}")


def _zoo_model(name: str) -> str:
    if name not in VARIANTS:
        raise UsageError(f'unknown model {name!r}; choose one of: {", ".join(VARIANTS)}')
    return name


def cmd_info(args: argparse.Namespace) -> int:
    _zoo_model(args.model)
    kwargs = _model_kwargs(args)
    size = _input_size(args, args.model)
    c = measure(args.model, size, **kwargs)
    import timm
    size = size or tuple(timm.models.get_pretrained_cfg(args.model).input_size)
    rec = _info_record(args.model, c, size, kwargs)
    if args.json:
        print(json.dumps(rec, indent=2))
    else:
        _print_info(rec)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError('plot needs matplotlib: pip install "relnas_zoo[plot]"') from None
    from ..plot import plot_genotype
    output_file(args.out, '--out', sorted(f'.{k}' for k in Figure().canvas.get_supported_filetypes()))
    genotype = resolve_genotype(args.genotype)
    plot_genotype(genotype, args.out, title=args.title or '')
    print(f'wrote {args.out}')
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    print('models:    ' + ', '.join(VARIANTS))
    print('genotypes: ' + ', '.join(g.name for g in PUBLISHED.values()))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Build every registered model, run one image through it and print the figures table."""
    import timm
    import torch
    from tqdm import tqdm

    rows: List[Dict[str, Any]] = []
    for name in tqdm(list(VARIANTS), desc='building models', unit='model', disable=not sys.stderr.isatty()):
        t0 = time.perf_counter()
        c = measure(name)
        model = timm.create_model(name).eval()
        size = model.pretrained_cfg['input_size']
        with torch.no_grad():
            logits = model(torch.randn(1, *size))
        rows.append(dict(name=name, size='x'.join(map(str, size[1:])), c=c, out=tuple(logits.shape),
                         seconds=time.perf_counter() - t0))
    print(f"{'model':<22}{'input':>8}{'params':>12}{'mult-adds':>12}{'published':>12}{'pub. MAdds':>12}"
          f"{'logits':>12}")
    for r in rows:
        c = r['c']
        print(f"{r['name']:<22}{r['size']:>8}{c.params / 1e6:>11.3f}M{c.mult_adds / 1e6:>11.2f}M"
              f"{c.published_params / 1e6:>11.3f}M{c.published_mult_adds / 1e6:>11.2f}M{str(r['out']):>12}")
    print('\nlive = unused cell inputs skipped (same outputs); published = the authors\' network as built.')
    if args.plot:
        from ..plot import plot_genotype
        plot_genotype(resolve_genotype('RelativeNAS'), args.plot)
        print(f'drew the RelativeNAS cells to {args.plot}')
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Build a registered model (with weights, if given); write it as a timm hub folder and/or to ONNX."""
    import timm
    from ..export import ExportError, FeatureOutputs, export_onnx
    from ..hub import export_hub
    from ..weights import create_model_for_checkpoint, load_checkpoint_file
    if not (args.onnx or args.hub):
        print('error: say what to write: --hub DIR (a timm hub folder) and/or --onnx FILE', file=sys.stderr)
        return 2
    if args.hub and args.features:
        print('error: --features exports the backbone to ONNX; a hub folder holds the whole model (drop one)',
              file=sys.stderr)
        return 2
    _zoo_model(args.model)
    if args.onnx:
        output_file(args.onnx, '--onnx', ('.onnx',))  # before the export work, not after it
    if args.checkpoint:  # a misfit or a bad file is one line (an InputError)
        model = create_model_for_checkpoint(args.model, load_checkpoint_file(args.checkpoint), **_model_kwargs(args))
    else:
        model = timm.create_model(args.model, **_model_kwargs(args))
    if args.hub:
        # HubExportError: a ValueError, one line
        folder = export_hub(model, args.hub, overwrite=args.overwrite, weights=args.checkpoint)
        print(f"wrote {folder}: config.json and model.safetensors; load it with "
              f"timm.create_model('local-dir:{folder}', pretrained=True) after import relnas_zoo")
        if not args.checkpoint:
            print('  its weights are random initial weights (no --checkpoint): config.json says so')
        if not args.onnx:
            return 0
    if args.features:
        model = FeatureOutputs(model, args.out_indices)
    size = _input_size(args, args.model) or timm.models.get_pretrained_cfg(args.model).input_size
    try:
        rep = export_onnx(model, args.onnx, size, fold_bn=not args.no_fold_bn, tolerance=args.tolerance,
                          opset=args.opset, channel_multiple=0 if args.no_fold_bn else args.channel_multiple)
    except ExportError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    padding = f', states padded to x{rep.channel_multiple} channels' if rep.channel_multiple else ''
    print(f"wrote {rep.path}: outputs {', '.join(rep.outputs)}, dynamic batch, BN "
          f"{'folded' if rep.folded_bn else 'kept'}{padding}; ONNX Runtime vs PyTorch on a batch of {rep.checked_batch}: "
          f"max abs diff {rep.max_abs_diff:.2e}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Latency of one model under the chosen runtimes on this machine, side by side in one run."""
    import timm
    import torch

    from .. import latency
    if not timm.is_model(args.model):
        raise UsageError(f'unknown model {args.model!r}: give a zoo model ({", ".join(VARIANTS)}) or a timm model '
                         f'name (timm.list_models() lists them)')
    if args.json:
        output_file(args.json, '--json', ('.json',))
    if args.threads:
        torch.set_num_threads(args.threads)
    if 'onnxruntime' in args.runtime or args.profile:
        from ..export import ExportError, require_onnx
        try:
            require_onnx()
        except ExportError as e:
            print(f'error: {e}', file=sys.stderr)
            return 2
    model = timm.create_model(args.model, **_model_kwargs(args)).eval()
    size = tuple(_input_size(args, args.model) or timm.models.get_pretrained_cfg(args.model).input_size)
    runners = latency.build_runtimes(model, args.runtime, size, channel_multiple=args.channel_multiple)
    threads = torch.get_num_threads()
    print(f'{args.model} at {size[1]}x{size[2]}: {count_mult_adds(model, size) / 1e6:.1f} M mult-adds/image; '
          f'{threads} threads; median of {args.rounds} interleaved rounds after {args.warmup} warm-up calls')
    rows = []
    for bs in args.batch_size:
        x = torch.randn(bs, *size)
        latency.check_outputs(model, runners, x, warmup=args.warmup)
        med = latency.time_interleaved(runners, x, args.rounds)
        base = med.get('eager')
        for name, sec in med.items():
            rows.append(dict(runtime=name, batch_size=bs, ms=1e3 * sec, ms_per_image=1e3 * sec / bs,
                             images_per_s=bs / sec, x_eager=base / sec if base else None))
    print(f"{'runtime':<14}{'batch':>6}{'ms':>10}{'ms/img':>9}{'img/s':>9}{'x eager':>9}")
    for r in rows:
        speed = f"{r['x_eager']:>9.2f}" if r['x_eager'] else f"{'-':>9}"
        print(f"{r['runtime']:<14}{r['batch_size']:>6}{r['ms']:>10.2f}{r['ms_per_image']:>9.2f}"
              f"{r['images_per_s']:>9.1f}{speed}")
    record = dict(model=args.model, input_size=list(size), threads=threads, rounds=args.rounds, results=rows)
    if args.profile:
        prof = latency.onnx_op_profile(model, size, args.batch_size[0], channel_multiple=args.channel_multiple)
        record['onnx_profile'] = prof
        total = sum(prof['ms_per_op_type'].values())
        print(f"\nONNX Runtime, batch {args.batch_size[0]}: exported graph {prof['exported_op_count']} ops "
              f"({', '.join(f'{k} {v}' for k, v in prof['exported_ops'].items())}); "
              f"after ONNX Runtime's fusions {prof['optimized_op_count']}")
        print(f"{'op type':<20}{'nodes':>7}{'ms/run':>9}{'share':>8}")
        for op, ms in prof['ms_per_op_type'].items():
            print(f"{op:<20}{prof['nodes_per_op_type'][op]:>7}{ms:>9.2f}{100 * ms / total:>7.1f}%")
    if args.json:
        from ..atomic import atomic_write_json
        atomic_write_json(args.json, record)
    return 0


def _info_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('model', help=f'registered model name: {", ".join(VARIANTS)}')
    _add_model_overrides(p, 'image size for the mult-add count (default: the model\'s own)')
    p.add_argument('--json', action='store_true', help='print one JSON record instead of a table')
    p.set_defaults(func=cmd_info)


def _plot_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('genotype', help='genotype name (RelativeNAS, DARTS_V1, DARTS_V2) or JSON file')
    p.add_argument('--out', required=True, help='output image; the suffix picks the format (.png, .pdf, .svg)')
    p.add_argument('--title', help='figure title prefix (default: the genotype name)')
    p.set_defaults(func=cmd_plot)


def _list_arguments(p: argparse.ArgumentParser) -> None:
    p.set_defaults(func=cmd_list)


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('--plot', metavar='PNG', help='also draw the RelativeNAS cells to this file')
    p.set_defaults(func=cmd_demo)


def _export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('model', help=f'registered model name: {", ".join(VARIANTS)}')
    p.add_argument('--onnx', help='output .onnx file (written only if it reproduces the model)')
    p.add_argument('--hub', metavar='DIR', help='write a timm hub folder (config.json, model.safetensors) that '
                                                "timm.create_model('local-dir:DIR', pretrained=True) loads")
    p.add_argument('--overwrite', action='store_true', help='with --hub: replace a non-empty folder')
    p.add_argument('--checkpoint', help='weights: our format or the authors\' (default: random initial weights)')
    _add_model_overrides(p, 'image size to export with (default: the model\'s own)')
    p.add_argument('--features', action='store_true', help='export the backbone: feature levels, no head')
    p.add_argument('--out-indices', type=int, nargs='+', default=[1, 2, 3],
                     help='with --features: levels to output (0: stem; 1-3: strides 8, 16, 32 for ImageNet)')
    p.add_argument('--no-fold-bn', action='store_true',
                     help='keep BatchNorm layers (default: folded); also turns channel padding off')
    p.add_argument('--channel-multiple', type=int, default=8,
                     help='zero-pad every cell state to a multiple of this many channels: same outputs, '
                          'faster CPU kernels (default 8; 0: keep the widths as built)')
    p.add_argument('--tolerance', type=float, default=1e-4,
                     help='largest allowed |ONNX Runtime - PyTorch| on the check batch (default 1e-4)')
    p.add_argument('--opset', type=int, help='ONNX opset (default: the exporter\'s)')
    p.set_defaults(func=cmd_export)


def _bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument('model', help=f'a zoo model ({", ".join(VARIANTS)}) or any timm model name, '
                                     f'e.g. mobilenetv2_100 for a baseline')
    p.add_argument('--runtime', nargs='+', default=['eager', 'onnxruntime'], choices=RUNTIMES, metavar='R',
                       help=f'runtimes to time side by side: {", ".join(RUNTIMES)} (default: eager onnxruntime; '
                            f'ratios are to eager)')
    p.add_argument('--batch-size', type=at_least(1), nargs='+', default=[1], help='batch sizes (default: 1)')
    p.add_argument('--rounds', type=at_least(1), default=20, help='timed rounds, median reported (default 20)')
    p.add_argument('--warmup', type=at_least(0), default=3, help='untimed calls per runtime first (default 3)')
    p.add_argument('--threads', type=at_least(0), default=0,
                   help='torch and ONNX Runtime threads (0: torch\'s default)')
    _add_model_overrides(p, 'image size (default: the model\'s own)')
    p.add_argument('--channel-multiple', type=int, default=8,
                       help='onnxruntime: pad cell states to a multiple of this many channels (default 8; 0: off)')
    p.add_argument('--profile', action='store_true',
                       help='also profile ONNX Runtime per op type at the first batch size (needs the deploy extra)')
    p.add_argument('--json', help='also write the results to this JSON file')
    p.set_defaults(func=cmd_bench)


_ARGUMENTS: Dict[str, Callable[[argparse.ArgumentParser], None]] = {
    'info': _info_arguments,
    'plot': _plot_arguments,
    'list': _list_arguments,
    'demo': _demo_arguments,
    'export': _export_arguments,
    'bench': _bench_arguments,
}


def configure(name: str, parser: argparse.ArgumentParser, argv: Sequence[str] = (), **options: Any) -> None:
    """Give ``parser`` the arguments of zoo command ``name`` and the function that runs it."""
    _ARGUMENTS[name](parser)
