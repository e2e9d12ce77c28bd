#!/usr/bin/env python
"""Time and peak memory of evaluating one pair of candidates: ours vs a reproduction of the authors'.

The authors' procedure (bench/authors_reference.py, written independently of the zoo's network): every
candidate holds all 7 ops on every edge (14 edges per cell: each intermediate node from each earlier node) plus the dead
preprocess layers, all weights are copied in from Omega, one epoch of SGD, then validation with
autograd on (the graph of the previous batch is still alive while the next one runs), NCHW fp32.
Its Omega is exactly ours (one weight per (cell, node, input node, op)), so 'authors' and 'ours+nchw'
do the same arithmetic up to the order of floating-point sums (the zoo shares each state's ReLU among the
ops reading it, takes the factorized reduction's odd grid directly and scales the drop-path mask; the
reference keeps a ReLU per op, pads and shifts, and divides the activation): after two steps (``--images 128``) their validation
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

from relnas_zoo.atomic import atomic_write_json  # noqa: E402
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


def _authors_evaluate(genotype, omega, net_args, train, val, settings, seed):
    import torch
    import torch.nn.functional as F
    from authors_reference import AuthorsCandidate
    from relnas_zoo.search.estimator import CandidateResult, train_one_epoch

    t0 = time.perf_counter()
    model = AuthorsCandidate(genotype, net_args['C'], net_args['layers'], net_args['num_classes'])
    model.load_omega(omega)
    model = model.to(train.device)
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
    weights = {k: v.detach().clone() for k, v in model.own_weights().items()}
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
            atomic_write_json(args.json, out)
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
        atomic_write_json(args.json, dict(args=vars(args), runs=runs, summary=summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
