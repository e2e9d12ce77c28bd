import json
import subprocess
import sys

import pytest

from relnas_zoo import save_genotype, DARTS_V1
from relnas_zoo.cli import main


def test_info_table(capsys):
    assert main(['info', 'relativenas']) == 0
    out = capsys.readouterr().out
    assert '4,964,837' in out and '536.43 M' in out          # live
    assert '5,050,029' in out and '562.97 M' in out          # as published
    assert '85,192' in out and '26.54 M' in out              # the difference
    for line in ('stem0', 'cells.3', 'cells.8', 'cells.13'):
        assert line in out
    assert '7x7' in out and '56x56' in out


def test_info_json_with_overrides(capsys, tmp_path):
    save_genotype(DARTS_V1, tmp_path / 'g.json')
    assert main(['info', 'relativenas_cifar10', '--genotype', str(tmp_path / 'g.json'), '--C', '16',
                 '--layers', '8', '--input-size', '64', '64', '--json']) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec['input_size'] == [3, 64, 64]
    assert rec['dead_params'] == rec['published_params'] - rec['params']
    assert [f['reduction'] for f in rec['feature_info']] == [1, 1, 2, 4]


def test_info_unknown_model(capsys):
    assert main(['info', 'resnet50']) == 2
    assert 'choose one of' in capsys.readouterr().err


def test_plot_writes_png(tmp_path):
    out = tmp_path / 'cells.png'
    assert main(['plot', 'RelativeNAS', '--out', str(out)]) == 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and out.stat().st_size > 20_000


def test_python_dash_m_is_the_same_program(tmp_path):
    r = subprocess.run([sys.executable, '-m', 'relnas_zoo', 'list'], capture_output=True, text=True)
    assert r.returncode == 0 and 'relativenas_cifar100' in r.stdout and 'DARTS_V2' in r.stdout


def test_plot_bad_genotype_is_a_clear_error(tmp_path, capsys):
    assert main(['plot', 'nasnet_a', '--out', str(tmp_path / 'x.png')]) == 2
    assert "unknown genotype 'nasnet_a'" in capsys.readouterr().err


def test_demo(capsys, tmp_path):
    assert main(['demo', '--plot', str(tmp_path / 'c.png')]) == 0
    out = capsys.readouterr().out
    for name in ('relativenas', 'relativenas_cifar10', 'relativenas_cifar100', 'darts_v2', 'darts_v2_cifar10'):
        assert name in out
    assert '3.876M' in out and '536.43M' in out
    assert (tmp_path / 'c.png').exists()


@pytest.mark.parametrize('name', ['RelativeNAS', 'DARTS_V1', 'DARTS_V2'])
def test_cell_drawing_layout_is_readable(name, tmp_path):
    """Left to right by depth, no edge through another node's box, no label on a node or another label."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from relnas_zoo.genotypes import resolve_genotype
    from relnas_zoo.plot import draw_cell, plot_genotype
    g = resolve_genotype(name)
    fig, axes = plt.subplots(2, 1, figsize=(10, 10))
    for ax, (edges, concat) in zip(axes, (g.cell(False), g.cell(True))):
        geo = draw_cell(ax, edges, concat, name)
        pos = geo['positions']
        for c in geo['curves']:
            assert pos[c['src']][0] < pos[c['dst']][0], c        # every edge runs left to right
            assert not c['crossed'], (c['op'], c['src'], c['dst'], c['crossed'])
        assert len(geo['labels']) == len(edges)
        assert all(l['overlaps'] == 0 for l in geo['labels']), geo['labels']
        xs = {n: p[0] for n, p in pos.items()}
        assert xs[0] == xs[1] == min(xs.values()) and xs['out'] == max(xs.values())
    plt.close(fig)
    plot_genotype(g, tmp_path / 'cells.png')
    assert (tmp_path / 'cells.png').stat().st_size > 10_000
