"""Draw a genotype's normal and reduction cells like the paper's figures (matplotlib, no graphviz)."""
from __future__ import annotations

import os
from typing import Sequence, Union

from .cells import live_states
from .genotypes import NUM_INPUT_NODES, Edge, Genotype

__all__ = ['plot_genotype']

_OP_COLOURS = {
    'max_pool_3x3': '#8c564b', 'avg_pool_3x3': '#9467bd', 'skip_connect': '#7f7f7f',
    'sep_conv_3x3': '#1f77b4', 'sep_conv_5x5': '#17becf', 'dil_conv_3x3': '#2ca02c', 'dil_conv_5x5': '#bcbd22',
}


def _draw_cell(ax, edges: Sequence[Edge], concat: Sequence[int], title: str) -> None:
    from matplotlib.patches import FancyArrowPatch

    n_mid = len(edges) // 2
    live = live_states(edges, concat)
    pos = {0: (0.0, 1.6), 1: (0.0, -1.6)}
    for k in range(n_mid):
        pos[NUM_INPUT_NODES + k] = (1.6 + 1.5 * k, 1.0 if k % 2 == 0 else -1.0)
    out = 'out'
    pos[out] = (1.6 + 1.5 * n_mid + 0.6, 0.0)
    labels = {0: r'$c_{k-2}$', 1: r'$c_{k-1}$', out: r'$c_{k}$'}
    labels.update({NUM_INPUT_NODES + k: str(NUM_INPUT_NODES + k) for k in range(n_mid)})

    def arrow(a, b, colour, label=None, rad=0.0, style='-|>', dashed=False):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        patch = FancyArrowPatch((x0, y0), (x1, y1), connectionstyle=f'arc3,rad={rad}', arrowstyle=style,
                                mutation_scale=12, color=colour, lw=1.4, shrinkA=16, shrinkB=16,
                                linestyle='--' if dashed else '-', zorder=1)
        ax.add_patch(patch)
        if label:
            # label at the middle of the arc: midpoint pushed sideways by the curvature
            mx, my = (x0 + x1) / 2, (y0 + y1) / 2
            dx, dy = x1 - x0, y1 - y0
            mx, my = mx + rad * dy / 2, my - rad * dx / 2
            ax.text(mx, my, label, fontsize=7, ha='center', va='center', color=colour, zorder=3,
                    bbox=dict(boxstyle='round,pad=0.15', fc='white', ec='none', alpha=0.85))

    for k in range(n_mid):
        dst = NUM_INPUT_NODES + k
        pair = edges[2 * k:2 * k + 2]
        same_src = pair[0][1] == pair[1][1]
        for j, (op, src) in enumerate(pair):
            rad = (0.25 if j == 0 else -0.25) if same_src else (0.12 if j == 0 else -0.12)
            arrow(src, dst, _OP_COLOURS.get(op, 'black'), op, rad=rad, dashed=not live[dst])
    for c in concat:
        arrow(c, out, '#444444', rad=0.0)

    for node, (x, y) in pos.items():
        is_input = node in (0, 1)
        dead = isinstance(node, int) and not live[node]
        face = '#a6d854' if is_input else '#fdd0a2' if node == out else '#8da0cb'
        ax.text(x, y, labels[node], ha='center', va='center', fontsize=9, zorder=4,
                bbox=dict(boxstyle='round,pad=0.35', fc='#eeeeee' if dead else face,
                          ec='#999999' if dead else 'black', linestyle='--' if dead else '-'))
    ax.set_title(title, fontsize=11)
    xs = [p[0] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(-2.4, 2.4)
    ax.set_axis_off()


def plot_genotype(genotype: Genotype, out: Union[str, os.PathLike], title: str = '') -> None:
    """Write a figure with the normal cell above the reduction cell (format from the file suffix).

    Inputs the cell never reads are drawn greyed and dashed.
    """
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError('plotting needs matplotlib: pip install "relnas_zoo[plot]"') from e
    fig, axes = plt.subplots(2, 1, figsize=(9, 7.5))
    name = title or genotype.name or 'genotype'
    _draw_cell(axes[0], genotype.normal, genotype.normal_concat, f'{name}: normal cell')
    _draw_cell(axes[1], genotype.reduce, genotype.reduce_concat, f'{name}: reduction cell')
    fig.tight_layout()
    fig.savefig(out, dpi=150)
    plt.close(fig)
