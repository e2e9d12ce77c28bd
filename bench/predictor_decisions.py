#!/usr/bin/env python
"""How often the real search's predictor (``predictor: renas``) decides a pair, and how often it is right,
on NAS-Bench-301's real DARTS-space architectures (NASLib's 725, CIFAR-10 validation accuracy).

The search's own decider decides (``relnas_zoo.search.predicted_pairs.make_decider``: the search's
settings, the graph feature set's recipe) and is given the evaluated pairs a search holds after
generation g of a population of 20 (10 pairs per generation, 10 new genotypes per generation after the
first 20), drawn at random from the table and decided by validation accuracy, and plans random pairs of
``--held-out`` architectures it never saw; a planned pair is right when its predicted fast-learner has the
higher accuracy. Two variants on the same draws: ``pairs`` learns from the search's pairs alone;
``prior`` also learns the accuracies of every table architecture that is not held out (the search's
``predictor_prior: nb301``, which on CIFAR-10 learns all 725). Pairs of a real population are not random
pairs: as the population converges its pairs get closer, and both figures will move.

    python bench/predictor_decisions.py --json bench/results/predictor_decisions_nb301.json
    python bench/predictor_decisions.py --generations 2 10 --repeats 3 --thresholds 0.5 1.0
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from relnas_zoo.atomic import atomic_write_json
from relnas_zoo.predictor import tables
from relnas_zoo.experiments.workers import job_data, run_jobs
from relnas_zoo.search.config import SearchConfig

PAIRS_PER_GENERATION = 10   # a population of 20
POPULATION = 20


def _job(job):
    variant, generation, repeat = job
    from dataclasses import replace
    from relnas_zoo.predictor.pair_decider import PairDecider
    from relnas_zoo.search.predicted_pairs import DECIDER_SEED_KEY, make_decider
    d = job_data()
    archs, acc = d['archs'], d['acc']
    rng = np.random.default_rng([d['seed'], generation, repeat])
    order = rng.permutation(len(archs))
    n_train = POPULATION + PAIRS_PER_GENERATION * (generation - 1)
    held_out, seen = order[:d['held_out']], order[d['held_out']:]
    train = seen[:n_train]
    # threshold 0 plans every pair with its confidence; each reported threshold is applied here
    pred = make_decider(SearchConfig(predictor='renas', seed=d['seed'] + repeat, predictor_threshold=1e-12,
                                     predictor_epochs=d['epochs'], predictor_batch_size=d['batch_size'],
                                     predictor_prior='none'))
    if variant == 'prior':  # the table's accuracies, held-out architectures left out
        pred = PairDecider(pred.space, replace(pred.config, prior='naslib'),
                           prior_table=([archs[i] for i in seen], acc[seen]))
    pairs = []
    for _ in range(PAIRS_PER_GENERATION * generation):
        a, b = rng.choice(train, size=2, replace=False)
        pairs.append((archs[a], archs[b]) if acc[a] >= acc[b] else (archs[b], archs[a]))
    pred.add_pairs(pairs)
    test = [tuple(rng.choice(len(held_out), size=2, replace=False)) for _ in range(d['test_pairs'])]
    pred.fit(generation, DECIDER_SEED_KEY)
    plans = [p for p in pred.decide([archs[i] for i in held_out], test) if p is not None]
    right = [acc[held_out[plan.fast]] >= acc[held_out[plan.slow]] for plan in plans]
    out = {}
    for t in d['thresholds']:
        kept = [ok for plan, ok in zip(plans, right) if plan.confidence >= t]
        out[str(t)] = dict(decided=len(kept), right=int(sum(kept)))
    # every held-out pair, whatever the confidence: the predictor's plain pairwise accuracy
    all_right = sum(right)
    return dict(thresholds=out, all_right=int(all_right), pairs=len(plans), training_pairs=len(pred.pairs),
                training_genotypes=len(pred.archs), prior_architectures=len(pred.prior_archs))


def main() -> int:
    cfg = SearchConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--generations', type=int, nargs='+', default=[2, 5, 10, 20, 49],
                   help='the generation whose evaluated pairs train the predictor (default 2 5 10 20 49: '
                        '20..490 pairs; 49 leaves 225 architectures unseen)')
    p.add_argument('--repeats', type=int, default=10, help='random draws per generation (default 10)')
    p.add_argument('--thresholds', type=float, nargs='+', default=[cfg.predictor_threshold],
                   help=f'confidence thresholds to report (default {cfg.predictor_threshold}, the search\'s)')
    p.add_argument('--variants', nargs='+', default=['pairs', 'prior'], choices=['pairs', 'prior'],
                   help='pairs: the search\'s pairs alone; prior: and the table\'s other accuracies (default both)')
    p.add_argument('--held-out', type=int, default=200,
                   help='architectures never seen, the test pairs\' (default 200; the rest: the draws, the prior)')
    p.add_argument('--epochs', type=int, help='predictor epochs (default: the search\'s, the graph set\'s recipe)')
    p.add_argument('--batch-size', type=int,
                   help='evaluated pairs per optimizer step (default: the search\'s, the graph set\'s recipe)')
    p.add_argument('--test-pairs', type=int, default=2000, help='held-out pairs planned per draw (default 2000)')
    p.add_argument('--seed', type=int, default=0, help='seed of the draws (default 0)')
    p.add_argument('--workers', type=int, default=2, help='single-threaded processes (default 2)')
    p.add_argument('--json', help='write the record here')
    args = p.parse_args()
    table = tables.naslib_nb301()
    archs, acc = table.with_metric('cifar10')
    most = POPULATION + PAIRS_PER_GENERATION * (max(args.generations) - 1)
    if most > len(archs) - args.held_out:
        p.error(f'generation {max(args.generations)} draws {most} architectures; with --held-out {args.held_out} '
                f'the table has {len(archs) - args.held_out}')
    jobs = [(v, g, r) for g in args.generations for r in range(args.repeats) for v in args.variants]
    data = dict(archs=archs, acc=acc, seed=args.seed, thresholds=args.thresholds, epochs=args.epochs,
                batch_size=args.batch_size, held_out=args.held_out,
                test_pairs=args.test_pairs)
    from tqdm import tqdm
    results = {}
    for (v, g, r), res in zip(jobs, tqdm(run_jobs(_job, jobs, data, args.workers), total=len(jobs), unit='fit')):
        results.setdefault((v, g), []).append(res)
    rows = {}
    print(f'predicted pairs on {args.held_out} unseen NAS-Bench-301 architectures ({table.source}), mean +- std '
          f'over {args.repeats} draws, {args.test_pairs} random pairs each')
    print(f"{'variant':>8} {'generation':>10} {'pairs':>6} {'genotypes':>9} {'all pairs right':>16}" +
          ''.join(f"{'decided @' + t:>16}{'right @' + t:>14}" for t in map(str, args.thresholds)))
    for (v, g), rs in sorted(results.items(), key=lambda kv: (args.variants.index(kv[0][0]), kv[0][1])):
        allr = [x['all_right'] / x['pairs'] for x in rs]
        row = dict(training_pairs=rs[0]['training_pairs'], training_genotypes=rs[0]['training_genotypes'],
                   prior_architectures=rs[0]['prior_architectures'],
                   all_right_mean=float(np.mean(allr)), all_right_std=float(np.std(allr)), thresholds={})
        line = f"{v:>8} {g:>10} {row['training_pairs']:>6} {row['training_genotypes']:>9} {np.mean(allr):>9.3f} +-{np.std(allr):.3f}"
        for t in map(str, args.thresholds):
            cov = [x['thresholds'][t]['decided'] / x['pairs'] for x in rs]
            acc_t = [x['thresholds'][t]['right'] / x['thresholds'][t]['decided'] for x in rs
                     if x['thresholds'][t]['decided']]
            row['thresholds'][t] = dict(decided_mean=float(np.mean(cov)), decided_std=float(np.std(cov)),
                                        right_mean=float(np.mean(acc_t)) if acc_t else None,
                                        right_std=float(np.std(acc_t)) if acc_t else None)
            line += f'{np.mean(cov):>9.3f} +-{np.std(cov):.3f}'
            line += f'{np.mean(acc_t):>7.3f} +-{np.std(acc_t):.3f}' if acc_t else f"{'-':>14}"
        rows.setdefault(v, {})[str(g)] = row
        print(line)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.json, dict(table=table.source, repeats=args.repeats, epochs=args.epochs,
                                          batch_size=args.batch_size, held_out=args.held_out,
                                          test_pairs=args.test_pairs, seed=args.seed, results=rows))
        print(f'wrote {args.json}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
