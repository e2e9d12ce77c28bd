"""The one command line: every command's help and argument errors in-process, the scripts once each,
the resume flag's two forms, and an LMDB build resumed from the settings it saved."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relnas_zoo.cli import COMMANDS, build_parser, main, run_command
from relnas_zoo.data.lmdb import ImageNetLMDB, build_lmdb, read_build_meta, scan_class_folders
from relnas_zoo.train.config import recipe_path

from datasets import write_cifar, write_imagenet

ROOT = Path(__file__).resolve().parents[1]
WNIDS = ['n01530575', 'n01440764', 'n02102040']


@pytest.fixture(scope='module')
def imagenet(tmp_path_factory):
    return write_imagenet(tmp_path_factory.mktemp('ilsvrc'), WNIDS)


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
    return write_cifar(tmp_path_factory.mktemp('cifar'), per_batch=24)


@pytest.mark.parametrize('name', list(COMMANDS))
def test_every_command_explains_its_flags(name, capsys):
    with pytest.raises(SystemExit) as e:
        main([name, '--help'])
    out = capsys.readouterr().out
    assert e.value.code == 0 and out.startswith(f'usage: relnas-zoo {name}')
    flags = [a for a in out.split() if a.startswith('--') and a != '--help']
    assert flags or name in ('list', 'search-summary', 'predictor'), out   # the others take flags


def test_the_top_level_help_lists_every_command_and_imports_none(capsys):
    before = set(sys.modules)
    with pytest.raises(SystemExit):
        build_parser(['--help']).parse_args(['--help'])
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)
    loaded = {m for m in set(sys.modules) - before if m.startswith('relnas_zoo.')}
    assert not loaded & {'relnas_zoo.search.runner', 'relnas_zoo.train.trainer', 'relnas_zoo.mm',
                         'relnas_zoo.predictor.cli'}, loaded


SCRIPTS = [('search/run.py', '--summary'), ('tools/train_imagenet.py', '--genotype'),
           ('tools/train_cifar.py', '--genotype'), ('tools/validate.py', '--recover-class-order'),
           ('tools/convert_checkpoint.py', '--class-order'), ('tools/imagenet_to_lmdb.py', '--verify')]


@pytest.mark.parametrize('script,flag', SCRIPTS)
def test_scripts_are_the_commands(script, flag):
    r = subprocess.run([sys.executable, str(ROOT / script), '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith(f'usage: {script}') and flag in r.stdout, r.stderr
    assert 'sys.path' not in (ROOT / script).read_text()


def _help(name, **options):
    import io
    from contextlib import redirect_stdout
    buf = io.StringIO()
    with redirect_stdout(buf), pytest.raises(SystemExit):
        run_command(name, ['--help'], **options)
    return {line.split()[0]: line for line in buf.getvalue().splitlines()
            if line.startswith('  ') and len(line.split()) > 1}


def test_train_help_shows_the_values_each_script_uses():
    imagenet = _help('train', default_config=recipe_path('imagenet'))
    assert "'imagenet'" in imagenet['task'] and '250' in imagenet['epochs'] and '0.5' in imagenet['lr']
    cifar = _help('train', default_config=recipe_path('cifar10'))
    assert '600' in cifar['epochs'] and '0.025' in cifar['lr'] and "'cifar10'" in cifar['task']
    assert _help('train') == imagenet                               # relnas-zoo train: the ImageNet recipe


def test_search_argument_errors(cifar, tmp_path, capsys):
    def err(*argv):
        code = main(['search', '--no-progress', *argv])
        return code, capsys.readouterr().err
    code, e = err('--out', str(tmp_path / 'a'), '--data', str(tmp_path / 'missing'))
    assert code == 2 and 'cifar-10-batches-py/' in e and 'data_batch_1' in e
    code, e = err('--out', str(tmp_path / 'b'), '--data', str(cifar), '--set', 'population=3')
    assert code == 2 and 'population=3' in e
    code, e = err('--resume', str(tmp_path / 'never'))
    assert code == 2 and 'nothing to resume' in e and str(tmp_path / 'never') in e
    code, e = err('--out', str(tmp_path / 'never'), '--resume')              # the same, other form
    assert code == 2 and 'nothing to resume' in e and str(tmp_path / 'never') in e
    code, e = err('--resume')
    assert code == 2 and '--resume RUN_DIR' in e
    code, e = err('--resume', str(tmp_path / 'x'), '--out', str(tmp_path / 'y'))
    assert code == 2 and 'two folders' in e
    code, e = err('--resume', str(tmp_path / 'x'), '--config', 'cifar10')
    assert code == 2 and '--config' in e and 'settings it was started with' in e
    # --set with --resume: the resume-safe fields are taken, others refused (tests/test_search_run.py)
    code, e = err('--resume', str(tmp_path / 'x'), '--set', 'seed=1')
    assert code == 2 and 'nothing to resume' in e
    code, e = err()
    assert code == 2 and '--out is required' in e


def test_training_argument_errors(tmp_path, capsys):
    tiny = ['--set', 'C=4', '--set', 'layers=3', '--set', 'epochs=1']

    def err(*argv):
        code = run_command('train', ['--no-progress', *argv], default_config=recipe_path('cifar10'))
        return code, capsys.readouterr().err
    code, e = err('--out', str(tmp_path / 'a'), '--data', str(tmp_path / 'nope'), *tiny)
    assert code == 2 and 'cifar-10-batches-py' in e
    code, e = err('--out', str(tmp_path / 'b'), '--data', 'x', '--set', 'amp=fp8')
    assert code == 2 and "amp='fp8'" in e
    code, e = err('--out', str(tmp_path / 'c'), '--data', 'x', '--set', 'model=relativenas')
    assert code == 2 and 'does not fit' in e
    code, e = err('--out', str(tmp_path / 'd'), '--resume')
    assert code == 2 and f"nothing to resume: {tmp_path / 'd' / 'last.pth'} does not exist" in e
    code, e = err('--resume', str(tmp_path / 'd'))                          # the same, other form
    assert code == 2 and f"nothing to resume: {tmp_path / 'd' / 'last.pth'} does not exist" in e
    code, e = err('--resume', str(tmp_path / 'd'), '--data', 'x')
    assert code == 2 and 'drop' in e
    code, e = err('--data', 'x')
    assert code == 2 and '--out is required' in e


def test_lmdb_build_resumes_with_the_settings_it_saved(imagenet, tmp_path, capsys):
    out = tmp_path / 'train'
    settings = dict(root=str(imagenet), split='train', val_labels=None, devkit_meta=None, num_classes=3,
                    resize=0, on_error='skip')
    source = scan_class_folders(imagenet / 'train', expected_classes=3)
    meta = build_lmdb(source, out, 'train', workers=1, commit_every=2, progress=False, stop_after=5,
                      arguments=settings)                                   # an interrupted build
    assert not meta['complete'] and read_build_meta(out)['arguments'] == settings
    assert main(['pack-lmdb', '--resume', str(out), '--workers', '1', '--no-progress']) == 0
    assert 'complete=True' in capsys.readouterr().out
    ref = tmp_path / 'ref'
    assert main(['pack-lmdb', '--root', str(imagenet), '--split', 'train', '--out', str(ref), '--num-classes', '3',
                 '--workers', '1', '--no-progress']) == 0
    a, b = ImageNetLMDB(out), ImageNetLMDB(ref)
    assert len(a) == len(b) == 12 and [a.raw(i) for i in range(12)] == [b.raw(i) for i in range(12)]
    assert read_build_meta(ref)['arguments']['root'] == str(imagenet.resolve())
    capsys.readouterr()
    assert main(['pack-lmdb', '--resume', str(out), '--root', str(imagenet), '--resize', '64']) == 2
    assert 'drop --root --resize' in capsys.readouterr().err
    assert main(['pack-lmdb', '--resume', str(tmp_path / 'none')]) == 2
    assert f"nothing to resume: {tmp_path / 'none' / 'data.mdb'} does not exist" in capsys.readouterr().err
    old = tmp_path / 'old'                                                  # started before settings were saved
    build_lmdb(source, old, 'train', workers=1, progress=False, stop_after=3)
    assert main(['pack-lmdb', '--resume', str(old)]) == 2
    assert 'run the command that started it again' in capsys.readouterr().err


def test_builder_argument_errors(imagenet, tmp_path, capsys):
    base = ['pack-lmdb', '--split', 'val', '--out', str(tmp_path / 'v'), '--val-labels',
            str(imagenet / 'LOC_val_solution.csv'), '--workers', '2', '--no-progress', '--root', str(imagenet)]
    assert main(base) == 2
    e = capsys.readouterr().err
    assert 'has 3 class folders, not 1000' in e and '--num-classes 3' in e
    assert main([*base, '--num-classes', '3']) == 0
    capsys.readouterr()
    assert main(['pack-lmdb', '--verify', str(tmp_path / 'v'), '--full', '--compare-root', str(imagenet / 'val'),
                 '--no-progress']) == 0
    out = capsys.readouterr().out
    assert 'ok:' in out and '6 records' in out
    assert main(['pack-lmdb', '--root', str(tmp_path / 'none'), '--split', 'train', '--out', str(tmp_path / 'x')]) == 2
    assert 'class folders' in capsys.readouterr().err
    assert main(['pack-lmdb', '--split', 'train']) == 2
    assert '--root, --split and --out are required' in capsys.readouterr().err


def test_configs_are_found_by_name(tmp_path, capsys):
    from relnas_zoo.config_files import find_config, list_configs, transfer_config
    assert list_configs('search') == ['cifar10', 'cifar100', 'demo']
    assert list_configs('train') == ['cifar10', 'cifar100', 'imagenet']
    assert Path(find_config('search', 'cifar10')) == ROOT / 'configs/search/cifar10.yaml'  # the one copy
    assert Path(find_config('train', 'imagenet.yaml')) == ROOT / 'configs/train/imagenet.yaml'
    assert Path(transfer_config('comparison/bisenet_darts_cityscapes')).is_file()
    own = tmp_path / 'cifar10.yaml'
    own.write_text('generations: 3\n')
    assert find_config('search', str(own)) == str(own)                 # a path wins over a name
    with pytest.raises(SystemExit):
        main(['train', '--config', 'cifar100', '--help'])                 # the help shows that recipe's values
    assert ' 96 ' in next(line for line in capsys.readouterr().out.splitlines() if line.startswith('  batch_size'))
    code = main(['search', '--config', 'cifar1O', '--out', str(tmp_path / 'x')])
    err = capsys.readouterr().err
    assert code == 2 and '--config cifar1O' in err and 'cifar10, cifar100, demo' in err
    assert not (tmp_path / 'x').exists()


def test_dist_scripts_say_what_is_wrong_in_one_line(tmp_path):
    """No arguments, a missing config or checkpoint, a GPU count that is no number, no interpreter: one line
    each and exit status 2 (bash's `$1: unbound variable` before)."""
    import shutil
    root = ROOT
    bash = shutil.which('bash')

    def run(script, *args, env=None):
        r = subprocess.run([bash, str(script), *map(str, args)], capture_output=True, text=True,
                           env=env or dict(os.environ))
        return r.returncode, r.stderr.strip().splitlines()

    for script, needed in (('dist_train.sh', 2), ('dist_test.sh', 3), ('dist_train_imagenet.sh', 2)):
        rc, err = run(root / 'tools' / script)
        assert rc == 2 and err[-1] == f'error: {needed} arguments are needed, 0 given' and 'usage:' in err[0]
    config = root / 'transfer/ssdlite_voc.py'
    assert run(root / 'tools/dist_train.sh', 'nope.py', 2)[1] == ['error: config nope.py: no such file']
    assert run(root / 'tools/dist_train.sh', config, 'two')[1][-1].startswith('error: GPUS=two: give the number')
    assert run(root / 'tools/dist_test.sh', config, tmp_path / 'x.pth', 1)[1] == [
        f'error: checkpoint {tmp_path / "x.pth"}: no such file']
    # no python on PATH, no virtual environment, no .venv beside the scripts: say PYTHON=
    tools = tmp_path / 'copy' / 'tools'
    tools.mkdir(parents=True)
    for name in ('dist_train.sh', 'dist_common.sh'):
        shutil.copy(root / 'tools' / name, tools / name)
    bare = {k: v for k, v in os.environ.items() if k != 'VIRTUAL_ENV'}
    shell_only = tmp_path / 'bin'  # the shell and the one tool the scripts use, no python
    shell_only.mkdir()
    for tool in ('bash', 'dirname'):
        (shell_only / tool).symlink_to(shutil.which(tool))
    bare['PATH'] = str(shell_only)
    bare.pop('PYTHON', None)
    rc, err = run(tools / 'dist_train.sh', config, 1, env=bare)
    assert rc == 2 and err[-1].startswith('error: no Python interpreter found') and 'PYTHON=' in err[-1]


def test_bad_input_between_commands_is_one_line(tmp_path, capsys, monkeypatch):
    """A malformed YAML config, plot without matplotlib, a training size of 0: one line, exit status 2."""
    bad = tmp_path / 'bad.yaml'
    bad.write_text('generations: [1, 2\npopulation: 3\n')
    assert main(['search', '--config', str(bad), '--out', str(tmp_path / 'run')]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'not valid YAML (line 2, column 11)' in err
    assert not (tmp_path / 'run').exists()
    monkeypatch.setitem(sys.modules, 'matplotlib', None)  # not installed
    monkeypatch.setitem(sys.modules, 'matplotlib.figure', None)
    assert main(['plot', 'RelativeNAS', '--out', str(tmp_path / 'c.png')]) == 2
    assert 'pip install "relnas_zoo[plot]"' in capsys.readouterr().err
    assert main(['predictor', 'train', '--space', 'nb201', '--train-size', '0', '--out', str(tmp_path / 'p.pt')]) == 2
    assert '--train-size 0: must be in 2..' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(['predictor', '--help'])
    assert 'bench | train | rank | search-bench | features' in capsys.readouterr().out


def test_output_into_a_closed_pipe_stops_quietly():
    """`relnas-zoo list | head -0`: the reader is gone before the command writes; no traceback."""
    p = subprocess.Popen([sys.executable, '-m', 'relnas_zoo', 'list'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 1 and 'Traceback' not in err and 'BrokenPipe' not in err, err


def test_progress_bars_only_for_a_terminal(monkeypatch):
    """Redirected output (a log file, a pipe) gets no bars and their control characters; --no-progress none."""
    import argparse
    from relnas_zoo.command_line import show_progress
    monkeypatch.setattr(sys.stderr, 'isatty', lambda: True, raising=False)
    assert show_progress(argparse.Namespace(no_progress=False))
    assert not show_progress(argparse.Namespace(no_progress=True))
    monkeypatch.setattr(sys.stderr, 'isatty', lambda: False, raising=False)
    assert not show_progress(argparse.Namespace(no_progress=False))
