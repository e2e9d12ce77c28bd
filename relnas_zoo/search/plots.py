"""The paper's Fig. 6 (top): every individual's validation loss over the generations."""
from __future__ import annotations

import math
import os
from typing import Any, List, Optional, Sequence, Union

__all__ = ['plot_loss_trajectories']


def plot_loss_trajectories(history: Sequence[Sequence[Optional[float]]], out: Union[str, os.PathLike]) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    n = len(history[0]) if history else 0
    gens = list(range(len(history)))  # numbered from 0, as the logs and generations.jsonl number them
    for k in range(n):
        ys: List[float] = [h[k] if h[k] is not None and math.isfinite(h[k]) else float('nan') for h in history]
        ax.plot(gens, ys, lw=0.9, alpha=0.8, marker='.' if len(gens) < 15 else None)
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel('generation')
    ax.set_ylabel('validation loss')
    ax.set_title(f'validation loss of the {n} candidates')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    plt.close(fig)


def plot_diversity(gens: Sequence[Any], out: Union[str, os.PathLike]) -> None:
    """Diversity of the population per generation (mean scaled distance, distinct genotypes), from the
    records of generations.jsonl (``search_log.GenerationRecord``)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not gens:
        return
    x = [g.generation for g in gens]  # from 0, as the logs
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(x, [g.diversity['mean_pairwise_distance'] for g in gens], color='C0', marker='.')
    ax.set_xlabel('generation')
    ax.set_ylabel('mean pairwise distance', color='C0')
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2 = ax.twinx()
    ax2.plot(x, [g.diversity['distinct_genotypes'] for g in gens], color='C1', marker='.')
    ax2.set_ylabel('distinct genotypes', color='C1')
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title('population diversity')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    plt.close(fig)
