"""Draw a genotype's normal and reduction cells like the paper's figures (matplotlib, no graphviz).

Layout: left to right by depth. The two cell inputs sit in the first column, every intermediate node in
the column of its longest path from the inputs, the output in the last. Each edge is a curve whose bend
is chosen so it passes no other node's box; its op label sits on the edge itself, at the first spot
along it that overlaps no node and no label placed before (measured with the renderer, not guessed).
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np

from .cells import live_states
from .genotypes import NUM_INPUT_NODES, Edge, Genotype

__all__ = ['plot_genotype', 'draw_cell']

_OP_COLOURS = {
    'max_pool_3x3': '#8c564b', 'avg_pool_3x3': '#9467bd', 'skip_connect': '#7f7f7f',
    'sep_conv_3x3': '#1f77b4', 'sep_conv_5x5': '#17becf', 'dil_conv_3x3': '#2ca02c', 'dil_conv_5x5': '#bcbd22',
}
_COL_DX = 3.2          # column spacing (data units; the axes have an equal aspect)
_ROW_DY = 1.25         # spacing of the nodes within a column
_BOX_W, _BOX_H = 0.56, 0.36
_BENDS = (0.0, 0.18, -0.18, 0.32, -0.32, 0.46, -0.46, 0.62, -0.62)
_LABEL_SPOTS = (0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73, 0.2, 0.8, 0.14, 0.86)

Box = Tuple[float, float, float, float]  # x0, y0, x1, y1


def _layout(edges: Sequence[Edge], concat: Sequence[int]) -> Dict[Any, Tuple[float, float]]:
    """Node positions: column = longest path from the inputs; inputs first, output last."""
    n_mid = len(edges) // 2
    depth = {0: 0, 1: 0}
    for k in range(n_mid):
        srcs = (edges[2 * k][1], edges[2 * k + 1][1])
        depth[NUM_INPUT_NODES + k] = 1 + max(depth[s] for s in srcs)
    depth['out'] = max(depth.values()) + 1
    columns: Dict[int, List[Any]] = {}
    for node, d in depth.items():
        columns.setdefault(d, []).append(node)
    # a gap crossed by many edges is widened, so their labels find room
    spans = [(depth[s], NUM_INPUT_NODES + k) for k in range(n_mid) for s in (edges[2 * k][1], edges[2 * k + 1][1])]
    x = [0.0]
    for d in range(depth['out']):
        crossing = sum(1 for a, b in spans if a <= d < depth[b])
        x.append(x[-1] + _COL_DX * max(1.0, crossing / 4))
    pos = {}
    for d, nodes in columns.items():
        for i, node in enumerate(nodes):
            pos[node] = (x[d], ((len(nodes) - 1) / 2 - i) * _ROW_DY)
    return pos


def _box(center: Tuple[float, float], pad: float = 0.0) -> Box:
    x, y = center
    return (x - _BOX_W / 2 - pad, y - _BOX_H / 2 - pad, x + _BOX_W / 2 + pad, y + _BOX_H / 2 + pad)


def _inside(points: np.ndarray, box: Box) -> np.ndarray:
    return (points[:, 0] > box[0]) & (points[:, 0] < box[2]) & (points[:, 1] > box[1]) & (points[:, 1] < box[3])


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _curve(p0, p2, bend: float, n: int = 80) -> np.ndarray:
    """A quadratic Bezier from p0 to p2 whose middle control point sits ``bend`` x the chord sideways."""
    p0, p2 = np.asarray(p0, float), np.asarray(p2, float)
    d = p2 - p0
    c = (p0 + p2) / 2 + bend * np.array([d[1], -d[0]])
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * t * (1 - t) * c + t ** 2 * p2


def draw_cell(ax, edges: Sequence[Edge], concat: Sequence[int], title: str) -> Dict[str, Any]:
    """Draw one cell on ``ax``; returns the geometry (node boxes, edge curves, label boxes) it used."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    live = live_states(edges, concat)
    pos = _layout(edges, concat)
    boxes = {node: _box(p) for node, p in pos.items()}
    ax.set_aspect('equal')
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.0)
    ax.set_axis_off()
    ax.set_title(title, fontsize=11)

    # edges: (src, dst, op or None for the concat into the output)
    wanted = [(src, NUM_INPUT_NODES + k, op) for k in range(len(edges) // 2)
              for op, src in edges[2 * k:2 * k + 2]]
    wanted += [(c, 'out', None) for c in concat]
    used_bends: Dict[Tuple[Any, Any], List[float]] = {}
    curves = []
    for src, dst, op in wanted:
        best = None
        for bend in _BENDS:
            if bend in used_bends.get((src, dst), []):
                continue  # a second edge between the same nodes takes another bend
            pts = _curve(pos[src], pos[dst], bend)
            hits = sum(int(_inside(pts, _box(pos[n], 0.08)).any()) for n in pos if n not in (src, dst))
            if best is None or hits < best[0]:
                best = (hits, bend, pts)
            if hits == 0:
                break
        _, bend, pts = best
        used_bends.setdefault((src, dst), []).append(bend)
        # trim to the node boxes' borders
        keep = ~_inside(pts, _box(pos[src], 0.02)) & ~_inside(pts, _box(pos[dst], 0.02))
        pts = pts[keep]
        colour = '#444444' if op is None else _OP_COLOURS.get(op, 'black')
        dead = op is not None and not live[dst]
        ax.add_patch(FancyArrowPatch(path=Path(pts), arrowstyle='-|>', mutation_scale=11, color=colour,
                                     lw=1.3, linestyle='--' if dead else '-', zorder=1))
        curves.append(dict(src=src, dst=dst, op=op, points=pts, bend=bend, others_hit=best[0],
                           crossed=[n for n, b in boxes.items() if n not in (src, dst) and _inside(pts, b).any()]))

    for node, p in pos.items():
        is_input = node in (0, 1)
        dead = isinstance(node, int) and not live[node]
        face = '#a6d854' if is_input else '#fdd0a2' if node == 'out' else '#8da0cb'
        x0, y0, x1, y1 = boxes[node]
        ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle='round,pad=0.02,rounding_size=0.08',
                                    fc='#eeeeee' if dead else face, ec='#999999' if dead else 'black',
                                    linestyle='--' if dead else '-', zorder=4))
        label = {0: r'$c_{k-2}$', 1: r'$c_{k-1}$', 'out': r'$c_{k}$'}.get(node, str(node))
        ax.text(*p, label, ha='center', va='center', fontsize=9, zorder=5)

    # labels on their own edge, at the first spot that overlaps nothing placed so far
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    ax.apply_aspect()  # the final data-to-pixel transform (equal aspect), before measuring any text
    to_data = ax.transData.inverted()
    taken: List[Box] = [_box(pos[n], 0.03) for n in pos]
    labels = []
    for c in curves:
        if c['op'] is None:
            continue
        pts, colour = c['points'], _OP_COLOURS.get(c['op'], 'black')
        text = ax.text(0, 0, c['op'], fontsize=6.5, ha='center', va='center', color=colour, zorder=3,
                       bbox=dict(boxstyle='round,pad=0.12', fc='white', ec='none', alpha=0.9))
        choice = None
        for t in _LABEL_SPOTS:
            xy = pts[min(len(pts) - 1, int(t * (len(pts) - 1)))]
            text.set_position(xy)
            ext = text.get_window_extent(renderer).transformed(to_data)
            box = (ext.x0, ext.y0, ext.x1, ext.y1)
            n_hits = sum(_overlap(box, b) for b in taken)
            if choice is None or n_hits < choice[0]:
                choice = (n_hits, xy, box)
            if n_hits == 0:
                break
        text.set_position(choice[1])
        taken.append(choice[2])
        labels.append(dict(op=c['op'], box=choice[2], overlaps=choice[0]))
    return dict(positions=pos, boxes=boxes, curves=curves, labels=labels)


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
    fig, axes = plt.subplots(2, 1, figsize=(10, 10))
    name = title or genotype.name or 'genotype'
    fig.tight_layout()
    draw_cell(axes[0], genotype.normal, genotype.normal_concat, f'{name}: normal cell')
    draw_cell(axes[1], genotype.reduce, genotype.reduce_concat, f'{name}: reduction cell')
    fig.savefig(out, dpi=150)
    plt.close(fig)
