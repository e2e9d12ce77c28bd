"""What a search run directory says about itself: diversity of a population and a text summary.

Reads only the JSON/YAML files a run writes (never the checkpoint), so it works on a running search
and on a copy of a finished one.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Union

from ..search_log import read_generations

__all__ = ['summarize']


def _fmt(v: Any) -> str:
    """A loss: '-' where there is none (a candidate not trained: its pair was decided by the predictor),
    'nan' where training diverged."""
    if v is None:
        return '-'
    return 'nan' if isinstance(v, float) and not math.isfinite(v) else f'{v:.4f}'


_NO_LOSS = "  ('-': no loss, not trained: the predictor decided the pair; 'nan': training diverged)"


def summarize(run_dir: Union[str, os.PathLike], last: int = 10) -> str:
    """A few lines on where a search stands (or how it ended): per-generation losses and diversity,
    the current best cells, and the final ranking when the search is finished."""
    import yaml

    from ..genotypes import Genotype
    run = Path(run_dir)
    if not (run / 'config.yaml').exists():
        raise FileNotFoundError(f'{run} is not a search run directory (no config.yaml)')
    cfg = yaml.safe_load((run / 'config.yaml').read_text())
    from ..run_folder import live_holder
    gens = read_generations(run)
    holder = live_holder(run)
    # a finished run's outputs, unless it has since been given more generations
    finished = (run / 'population.json').exists() and len(gens) >= cfg['generations'] and not holder
    if finished:
        state = 'finished'
    elif holder:
        state = f'running: {holder}'
    else:
        state = f'not running (stopped or killed): continue with relnas-zoo search --resume {run}'
    lines = [f'search in {run}: {cfg["dataset"]}, N={cfg["population"]}, G={cfg["generations"]}, '
             f'mode={cfg["mode"]}, C={cfg["C"]}, {cfg["layers"]} cells, seed {cfg["seed"]}',
             f'{len(gens)}/{cfg["generations"]} generations done, {state}']
    if cfg.get('predictor', 'none') != 'none':
        predicted = sum(g.predicted_pairs for g in gens)
        total = sum(len(g.pairs) for g in gens)
        lines.append(f'predictor {cfg["predictor"]} (from generation {cfg["predictor_warmup"]}, threshold '
                     f'{cfg["predictor_threshold"]}): {predicted} of {total} pairs decided without training, '
                     f'{2 * predicted} candidate evaluations saved')
    if gens:
        lines.append(f'{"gen":>4} {"best":>8} {"mean":>8} {"distance":>9} {"distinct":>8}')
        for g in gens[-last:]:
            d = g.diversity
            lines.append(f'{g.generation:>4} {_fmt(g.best_val_loss):>8} {_fmt(g.mean_val_loss):>8} '
                         f'{d["mean_pairwise_distance"]:>9.3f} {d["distinct_genotypes"]:>8}')
        if any(_fmt(v) in ('-', 'nan') for g in gens[-last:] for v in (g.best_val_loss, g.mean_val_loss)):
            lines.append(_NO_LOSS)
    if finished:
        pop = json.loads((run / 'population.json').read_text())
        lines.append(f'chosen by {pop["chosen_by"]}: individual {pop["best_individual"]} '
                     f'(val loss {_fmt(pop["best_val_loss"])}), genotype in {run / "genotype.json"}')
        lines.append('rank individual final_val_loss last_gen_val_loss')
        for p in pop['population'][:5]:
            lines.append(f'{p["rank"]:>4} {p["individual"]:>10} {_fmt(p["final_val_loss"]):>14} '
                         f'{_fmt(p["last_val_loss"]):>17}')
        if any(p['last_val_loss'] is None for p in pop['population'][:5]):
            lines.append("  ('-' in the last generation: not trained, the predictor decided the pair)")
        best = Genotype.from_dict(pop['population'][0]['genotype'])
    elif gens:
        g = gens[-1]
        if g.best_individual is None:
            return '\n'.join(lines)
        best = g.best_genotype()
        lines.append(f'best of generation {g.generation}: individual {g.best_individual}')
    else:
        return '\n'.join(lines)
    lines.append('  normal: ' + ', '.join(f'{op}<-{src}' for op, src in best.normal))
    lines.append('  reduce: ' + ', '.join(f'{op}<-{src}' for op, src in best.reduce))
    return '\n'.join(lines)
