#!/usr/bin/env python
"""Time one generation of the paper's search setting and project the whole search.

The paper's setting (configs/search/cifar10.yaml): N=20, proxy C=16 with 8 cells, batch 256, a
25K/25K split of CIFAR-10's training images, one epoch per candidate. Images are seeded random
CIFAR-shaped data written in the CIFAR python layout (the time does not depend on their content), so
nothing is downloaded; pass --data to use a real CIFAR-10 root instead.

Each variant runs the real search entry point (``run_search``, one generation, sequential mode) in its
own process; the projection is 50 generations plus the final ranking (one more generation's worth of
candidates). Variants run in turn, --repeats rounds, medians reported with ratios to the first variant.

    python bench/search_generation.py                           # on the GPU when there is one
    python bench/search_generation.py --variants nchw bf16 --repeats 1
"""
from __future__ import annotations

import argparse
import json
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from relnas_zoo.atomic import atomic_write_json  # noqa: E402
VARIANTS = {
    'graphs': ['channels_last=false', 'amp=none', 'cuda_graphs=true'],     # the search default on CUDA
    'nchw': ['channels_last=false', 'amp=none', 'cuda_graphs=false'],      # eager steps
    'channels_last': ['channels_last=true', 'amp=none', 'cuda_graphs=false'],  # the default on the CPU
    'bf16': ['channels_last=false', 'amp=bf16', 'cuda_graphs=false'],
    'bf16_cl': ['channels_last=true', 'amp=bf16', 'cuda_graphs=false'],
    'graphs_cl': ['channels_last=true', 'amp=none', 'cuda_graphs=true'],
    'graphs_bf16': ['channels_last=false', 'amp=bf16', 'cuda_graphs=true'],
    'graphs_bf16_cl': ['channels_last=true', 'amp=bf16', 'cuda_graphs=true'],
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', help='a CIFAR-10 root (cifar-10-batches-py/); default: seeded random images')
    p.add_argument('--variants', nargs='+', default=['nchw', 'graphs', 'graphs_bf16'], choices=list(VARIANTS),
                   help='first one is the reference of the ratio column')
    p.add_argument('--repeats', type=int, default=1, help='rounds over the variants (medians reported)')
    p.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='extra config overrides for every variant, e.g. --set subset=5000 for a quick look')
    p.add_argument('--json', help='also write the results here')
    p.add_argument('--child', help=argparse.SUPPRESS)
    p.add_argument('--child-data', help=argparse.SUPPRESS)
    return p.parse_args(argv)


def write_random_cifar10(root: Path, seed: int = 0) -> Path:
    import numpy as np
    rng = np.random.default_rng(seed)
    folder = root / 'cifar-10-batches-py'
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        data = rng.integers(0, 256, size=(10000, 3072), dtype=np.uint8)
        batch = {b'batch_label': name.encode(), b'labels': rng.integers(0, 10, 10000).tolist(), b'data': data,
                 b'filenames': [f'{i}.png'.encode() for i in range(10000)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / 'batches.meta').write_bytes(pickle.dumps({b'label_names': [f'c{i}'.encode() for i in range(10)],
                                                        b'num_cases_per_batch': 10000}, protocol=2))
    return root


def child(args) -> dict:
    import torch
    from relnas_zoo.search import apply_overrides, load_config, run_search
    cfg = load_config(ROOT / 'configs/search/cifar10.yaml')
    cfg = apply_overrides(cfg, [f'data={args.child_data}', 'generations=1', 'final_ranking=false', 'plots=false',
                                'tensorboard=false', *VARIANTS[args.child], *args.overrides]).checked()
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        res = run_search(cfg, out, progress=False)
        wall = time.perf_counter() - t0
        rows = [json.loads(x) for x in (Path(out) / 'evaluations.jsonl').read_text().splitlines()]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'
    peak = torch.cuda.max_memory_allocated() / 2 ** 20 if torch.cuda.is_available() else float('nan')
    cand = [r['seconds'] for r in rows]
    return dict(variant=args.child, device=device, generation_s=res.seconds, wall_s=wall,
                candidate_median_s=statistics.median(cand), first_candidate_s=cand[0],
                peak_gpu_mb=peak, val_losses=[r['val_loss'] for r in rows])


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or str(write_random_cifar10(Path(tmp)))
        runs = {v: [] for v in args.variants}
        for r in range(args.repeats):
            for v in args.variants:
                cmd = [sys.executable, __file__, '--child', v, '--child-data', data]
                for o in args.overrides:
                    cmd += ['--set', o]
                res = subprocess.run(cmd, capture_output=True, text=True)
                if res.returncode:
                    print(res.stderr[-3000:], file=sys.stderr)
                    return 1
                rec = json.loads(res.stdout.strip().splitlines()[-1])
                runs[v].append(rec)
                print(f'round {r}: {v:<12} generation {rec["generation_s"]:8.1f} s  candidate median '
                      f'{rec["candidate_median_s"]:6.2f} s (first {rec["first_candidate_s"]:.2f} s)  '
                      f'peak GPU {rec["peak_gpu_mb"]:.0f} MB  on {rec["device"]}', flush=True)
    summary = {v: dict(generation_s=statistics.median(x['generation_s'] for x in rs),
                       candidate_s=statistics.median(x['candidate_median_s'] for x in rs),
                       peak_gpu_mb=statistics.median(x['peak_gpu_mb'] for x in rs)) for v, rs in runs.items()}
    ref = summary[args.variants[0]]
    print(f'\none generation of the paper\'s setting (N=20, C=16, 8 cells, batch 256, 25K/25K), '
          f'median of {args.repeats}; whole search = 51 generations\' worth (50 + the final ranking)')
    print(f"{'variant':<14}{'s/gen':>9}{'s/cand':>9}{'x ' + args.variants[0]:>9}{'peak GPU MB':>13}{'search h':>10}")
    for v, s in summary.items():
        print(f"{v:<14}{s['generation_s']:>9.1f}{s['candidate_s']:>9.2f}{ref['generation_s'] / s['generation_s']:>9.2f}"
              f"{s['peak_gpu_mb']:>13.0f}{51 * s['generation_s'] / 3600:>10.2f}")
    print('paper: about 7 h on one V100 (0.4 GPU-days), 9 h on one 1080Ti')
    if args.json:
        atomic_write_json(args.json, dict(args=vars(args), runs=runs, summary=summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
