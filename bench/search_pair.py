#!/usr/bin/env python
"""Time and peak memory of evaluating one pair of candidates: ours vs a reproduction of the authors'.

The authors' procedure (reproduced here with the zoo's own op and cell code): every candidate holds all
7 ops on every edge (14 edges per cell: each intermediate node from each earlier node) plus the dead
preprocess layers, all weights are copied in from Omega, one epoch of SGD, then validation with
autograd on (the graph of the previous batch is still alive while the next one runs), NCHW fp32.
Its Omega is exactly ours (one weight per (cell, node, input node, op)), so 'authors' and 'ours+nchw'
do the same arithmetic up to the order of floating-point sums (the zoo shares each state's ReLU among the
ops reading it; the reproduction keeps a ReLU per op): after two steps (``--images 128``) their validation
losses agree to 1e-6; over the default 16 steps at lr 0.1 on random labels the rounding differences grow
(to 0.05-0.15 in the loss). Ours: only the candidate's own ops, validation under inference mode,
channels_last (the CPU default; 'ours+nchw' without it), glibc keeping freed memory as a CPU search
does ('ours+default-malloc' without it), optionally bf16 autocast; 'ours+graphs' is the
CUDA default (NCHW, each candidate's full-batch steps replayed as CUDA graphs; the same as 'ours+nchw' on
a CPU).

Each variant runs in a fresh process (so peak RSS is its own), on the same data (seeded random
CIFAR-shaped images), the same two architecture vectors and the same Omega; variants alternate over
--repeats rounds and the medians are reported with ratios to the authors' procedure.

    python bench/search_pair.py                       # 1024 + 1024 images, batch 64, C=16, 8 cells
    python bench/search_pair.py --images 256 --repeats 1
    python bench/search_pair.py --profile ours --images 512          # where one pair's time goes
    python bench/search_pair.py --device cuda --images 25000 --batch-size 256 --variants authors ours+nchw ours+graphs
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ('authors', 'ours+nchw', 'ours', 'ours+default-malloc', 'ours+bf16', 'ours+graphs', 'ours+cl+graphs',
            'ours+cl+bf16+graphs')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--images', type=int, default=1024, help='images in each of search-train and -validation')
    p.add_argument('--batch-size', type=int, default=64, help='train and validation batch size')
    p.add_argument('--C', type=int, default=16, help='proxy network channels')
    p.add_argument('--layers', type=int, default=8, help='proxy network cells')
    p.add_argument('--repeats', type=int, default=3, help='rounds over all variants (medians reported)')
    p.add_argument('--variants', nargs='+', choices=VARIANTS,
                   help='default: authors, ours+nchw, ours, ours+bf16 on the CPU (where graphs do not apply); '
                        'authors, ours+nchw, ours+graphs on CUDA')
    p.add_argument('--device', default='cpu', help="cpu or cuda (peak = the GPU allocator's high-water mark)")
    p.add_argument('--warmup', type=int, default=None,
                   help='untimed pairs of other architectures first in each process (default: 1 on CUDA, where '
                        "the first candidates pay cuDNN's algorithm search for every new op shape, 0 on the CPU)")
    p.add_argument('--profile', choices=VARIANTS, metavar='VARIANT',
                   help='instead of timing, run one pair of VARIANT under torch.profiler in this process and '
                        'print the time per phase (build, Omega in/out, data, forward, backward, optimizer, '
                        'validation) and the top ops')
    p.add_argument('--json', help='also write the results here')
    p.add_argument('--child', choices=VARIANTS, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _authors_candidate(genotype, omega, net_args):
    """A candidate as the authors build it: all ops on every edge, dead preprocess layers kept."""
    import torch
    from relnas_zoo.networks import RelativeNASNet, reduction_layers
    from relnas_zoo.search.weight_set import PROXY_NET_ARGS

    model = RelativeNASNet(genotype=genotype, prune_unused=False, **PROXY_NET_ARGS, **net_args)
    _authors_cell_forward(model)
    reductions = reduction_layers(net_args['layers'])
    _add_unused_ops(model, genotype, omega, reductions)
    with torch.no_grad():  # the selected ops, stem, preprocess and classifier from Omega
        for k, v in _own_weights(model, genotype, net_args['layers']).items():
            v.copy_(omega.tensors[k])
    return model


def _authors_cell_forward(model) -> None:
    """The authors' cell arithmetic on the zoo's modules: every op and preprocess layer applies its own
    leading ReLU (the zoo applies it once per state), a plain concat, the factorized reduction slices the full-size input
    before a stride-2 conv (the zoo takes the odd grid directly), and drop-path divides the activation
    before masking it (the zoo scales the mask), and depthwise convolutions take PyTorch's own backward
    (the zoo's ``DepthwiseConv2d`` computes it with faster calls on the CPU). Same numbers up to rounding."""
    import types

    import torch
    import torch.nn.functional as F
    from relnas_zoo.depthwise import DepthwiseConv2d
    from relnas_zoo.ops import FactorizedReduce, ScheduledDropPath

    def fr_forward(fr, x):
        x = torch.relu(x)
        return fr.bn(torch.cat([fr.conv_1(x), F.conv2d(x[:, :, 1:, 1:], fr.conv_2.weight, stride=2)], dim=1))

    def cell_forward(cell, s0, s1):
        states = [cell.preprocess0(s0), cell.preprocess1(s1)]
        for node in cell.nodes.values():
            states.append(node(states, states))
        return torch.cat([states[i] for i in cell.concat], dim=1)

    def drop_path_forward(dp, x):  # DARTS: divide the activation, then multiply it by the mask
        if not dp.training or not dp.enabled:
            return x
        keep = (1. - dp.rate).to(x.dtype)
        mask = torch.bernoulli(keep.expand(x.shape[0], 1, 1, 1).contiguous())
        return x / keep * mask

    for module in model.modules():
        if isinstance(module, FactorizedReduce):  # preprocess layers and strided skips alike
            module.forward = types.MethodType(fr_forward, module)
        elif isinstance(module, ScheduledDropPath):
            module.forward = types.MethodType(drop_path_forward, module)
        elif isinstance(module, DepthwiseConv2d):  # the authors' nn.Conv2d
            module.forward = types.MethodType(torch.nn.Conv2d.forward, module)
    model._activated_states = [False] * len(model._activated_states)  # each preprocess layer its own ReLU
    for cell in model.cells:
        cell.forward = types.MethodType(cell_forward, cell)
        cell.activate = [False] * len(cell.activate)
        ops = [cell.preprocess0, cell.preprocess1]
        for node in cell.nodes.values():
            node.act1 = node.act2 = False
            ops += [node.op1, node.op2]
        for op in ops:
            if hasattr(op, 'op') and isinstance(op.op[0], torch.nn.Identity):
                op.op[0] = torch.nn.ReLU(inplace=False)


def _add_unused_ops(model, genotype, omega, reductions) -> None:
    """Every (node, input node, op) the genotype does not select, with its Omega weights (they take part
    in nothing but memory and the copies, as in the authors' network)."""
    import torch
    from relnas_zoo.genotypes import OPS
    from relnas_zoo.ops import build_op

    for i, cell in enumerate(model.cells):
        edges, _ = genotype.cell(i in reductions)
        channels = cell.out_channels // 4
        for k, node in cell.nodes.items():
            node.unused_ops = torch.nn.ModuleList()
            used = {edges[2 * int(k)], edges[2 * int(k) + 1]}
            for src in range(int(k) + 2):
                stride = 2 if i in reductions and src < 2 else 1
                for op_name in OPS:
                    if (op_name, src) in used:
                        continue
                    op = build_op(op_name, channels, stride)
                    node.unused_ops.append(op)
                    key = f'cells.{i}.nodes.{k}.from{src}.{op_name}.'
                    with torch.no_grad():
                        for name, t in op.state_dict(keep_vars=True).items():
                            t.copy_(omega.tensors[key + name])


def _own_weights(model, genotype, layers) -> dict:
    from relnas_zoo.search.weight_set import omega_key
    return {omega_key(k, genotype, layers): v for k, v in model.state_dict(keep_vars=True).items()
            if '.unused_ops.' not in k}


def _authors_evaluate(genotype, omega, net_args, train, val, settings, seed):
    import torch
    import torch.nn.functional as F
    from relnas_zoo.search.estimator import CandidateResult, train_one_epoch

    t0 = time.perf_counter()
    model = _authors_candidate(genotype, omega, net_args).to(train.device)
    model.set_drop_path_rate(settings.drop_path)
    torch.manual_seed(seed)  # as ours: the same drop-path and data stream
    train_loss, train_acc = train_one_epoch(model, train, settings, torch.Generator().manual_seed(seed))
    model.eval()
    total, correct = 0.0, 0
    for x, y in val.epoch(shuffle=False):  # autograd on: the previous batch's graph lives on
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        total += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
    weights = {k: v.detach().clone() for k, v in _own_weights(model, genotype, net_args['layers']).items()}
    return CandidateResult(train_loss, train_acc, total / val.num_samples, correct / val.num_samples,
                           time.perf_counter() - t0, weights)


def child(args, timed_context=None) -> dict:
    """One pair of ``args.child`` (after the warm-up pairs); ``timed_context`` wraps only the timed pair."""
    import contextlib
    import numpy as np
    import torch
    from relnas_zoo.data import TensorBatches
    from relnas_zoo.encoding import decode, random_vector
    from relnas_zoo.search import WeightSet, decide
    from relnas_zoo.search.estimator import TrainSettings, evaluate_candidate
    from relnas_zoo.search.host_memory import keep_freed_memory

    torch.set_num_threads(torch.get_num_threads())
    device = torch.device(args.device)
    cuda = device.type == 'cuda'
    if cuda:
        torch.backends.cudnn.benchmark = True  # as the search (and the authors) set it
    rng = np.random.default_rng(0)
    n = args.images
    images = rng.integers(0, 256, size=(2 * n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=2 * n)
    variant = args.child
    if not cuda and variant not in ('authors', 'ours+default-malloc'):
        keep_freed_memory()  # as a CPU search does (keep_freed_memory: true); the authors' code does not
    channels_last = variant in ('ours', 'ours+default-malloc', 'ours+bf16', 'ours+cl+graphs', 'ours+cl+bf16+graphs')
    graphs = variant.endswith('+graphs')
    bf16 = '+bf16' in variant
    common = dict(mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26), batch_size=args.batch_size,
                  channels_last=channels_last, device=device)
    train = TensorBatches(images[:n], labels[:n], augment=True, cutout=16, **common)
    val = TensorBatches(images[n:], labels[n:], **common)
    net_args = dict(C=args.C, layers=args.layers, num_classes=10, stem_type='cifar')
    omega = WeightSet.initial(0, device, **net_args)
    settings = TrainSettings(lr=0.1, drop_path=0.1, amp='bf16' if bf16 else 'none',
                             channels_last=channels_last, cuda_graphs=graphs)

    def evaluate(g, k):
        if variant == 'authors':
            return _authors_evaluate(g, omega, net_args, train, val, settings, seed=k)
        return evaluate_candidate(g, omega, net_args, train, val, settings, seed=k)

    warmup = args.warmup if args.warmup is not None else int(cuda)
    for w in range(warmup):  # other architectures; their weights are not merged into Omega
        for s in (100 + 2 * w, 101 + 2 * w):
            evaluate(decode(random_vector(np.random.default_rng(s))), s)
    genotypes = [decode(random_vector(np.random.default_rng(s))) for s in (11, 12)]
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    rss0 = _rss_bytes()
    t0 = time.perf_counter()
    results = []
    with (timed_context or contextlib.nullcontext)():
        for k, g in enumerate(genotypes):
            results.append(evaluate(g, k))
    out = decide(0, 1, results[0].val_loss, results[1].val_loss)
    omega.merge(results[out.fast].weights, results[out.slow].weights)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    if cuda:
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
    return dict(variant=variant, seconds=seconds, peak_extra_mb=peak / 2 ** 20,
                candidate_seconds=[r.seconds for r in results], val_losses=[r.val_loss for r in results])


PHASES = ('build', 'omega_in', 'train', 'data', 'forward', 'backward', 'optimizer', 'record_graph', 'replay',
          'validate', 'omega_out')


def profile(args) -> dict:
    """One pair under torch.profiler: the spans the search labels (relnas_zoo.search.estimator.phase) and
    the ops with the most time of their own."""
    import torch
    from torch.profiler import ProfilerActivity
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device.startswith('cuda') else [])
    args.child = args.profile
    prof = torch.profiler.profile(activities=activities)
    res = child(args, timed_context=lambda: prof)
    events = prof.key_averages()
    spans = {e.key[len('search.'):]: e.cpu_time_total / 1e6 for e in events if e.key.startswith('search.')}
    print(f"one pair of {args.profile} under the profiler: {res['seconds']:.2f} s (profiler overhead included)")
    print('time per phase, s (train and validate each hold their data and, on CUDA, graph recording and '
          'replays; train also holds forward, backward and optimizer):')
    for name in PHASES:
        if name in spans:
            print(f'  {name:<14}{spans[name]:8.2f}  {100 * spans[name] / res["seconds"]:5.1f}%')
    print(events.table(sort_by='self_cpu_time_total', row_limit=30, max_name_column_width=50))
    return dict(variant=args.profile, seconds=res['seconds'], phases=spans)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.variants:
        cpu = not args.device.startswith('cuda')
        args.variants = ['authors', 'ours+nchw', 'ours', 'ours+bf16'] if cpu else ['authors', 'ours+nchw', 'ours+graphs']
    if args.child:
        print(json.dumps(child(args)))
        return 0
    if args.profile:
        out = profile(args)
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
        return 0
    runs = {v: [] for v in args.variants}
    base = [sys.executable, __file__, '--images', str(args.images), '--batch-size', str(args.batch_size),
            '--C', str(args.C), '--layers', str(args.layers), '--device', args.device]
    if args.warmup is not None:
        base += ['--warmup', str(args.warmup)]
    for r in range(args.repeats):
        for v in args.variants:
            res = subprocess.run(base + ['--child', v], capture_output=True, text=True, check=True)
            rec = json.loads(res.stdout.strip().splitlines()[-1])
            runs[v].append(rec)
            print(f'round {r}: {v:<20} {rec["seconds"]:7.2f} s/pair  peak +{rec["peak_extra_mb"]:7.1f} MB  '
                  f'val losses {[round(x, 4) for x in rec["val_losses"]]}', flush=True)
    summary = {v: dict(seconds=statistics.median(x['seconds'] for x in rs),
                       peak_extra_mb=statistics.median(x['peak_extra_mb'] for x in rs)) for v, rs in runs.items()}
    ref = summary.get('authors')
    print(f'\none pair, {args.images} + {args.images} images, batch {args.batch_size}, C={args.C}, '
          f'{args.layers} cells, {args.device}; median of {args.repeats}')
    print(f"{'variant':<22}{'s/pair':>9}{'speedup':>9}{'peak MB':>10}{'x memory':>10}")
    for v, s in summary.items():
        sp = ref['seconds'] / s['seconds'] if ref else float('nan')
        mem = s['peak_extra_mb'] / ref['peak_extra_mb'] if ref else float('nan')
        print(f"{v:<22}{s['seconds']:>9.2f}{sp:>9.2f}{s['peak_extra_mb']:>10.1f}{mem:>10.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(args=vars(args), runs=runs, summary=summary), indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
