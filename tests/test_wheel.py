"""The built wheel, installed into a fresh virtual environment with no checkout on the path: the demo
search, ``relnas-zoo info`` and the configs found by name."""
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(python, relnas-zoo) of a new venv holding only the wheel; its dependencies (torch, timm...) are
    this environment's, reached through a path file, so nothing is downloaded or built twice."""
    tmp = tmp_path_factory.mktemp('wheel')
    src = tmp / 'src'  # the tracked files only: a build never sees stale outputs of the checkout
    files = subprocess.run(['git', 'ls-files', '-z'], cwd=ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split('\0'):
        if name and (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', str(src), '--no-deps', '--no-build-isolation', '-q',
                    '-w', str(tmp / 'dist')], check=True, capture_output=True)
    wheel = next((tmp / 'dist').glob('relnas_zoo-*.whl'))
    venv = tmp / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    python = venv / 'bin' / 'python'
    site = subprocess.run([str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          capture_output=True, text=True, check=True).stdout.strip()
    # a plain path line: this environment's packages, not its .pth hooks (so not its editable relnas_zoo)
    Path(site, 'deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    subprocess.run([sys.executable, '-m', 'pip', '--python', str(python), 'install', '--no-deps', '-q', str(wheel)],
                   check=True, capture_output=True)
    return python, venv / 'bin' / 'relnas-zoo', tmp


def _run(cmd, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH',)}
    return subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, env=env)


@pytest.mark.slow
def test_the_installed_package_runs_from_anywhere(installed):
    python, cli, tmp = installed
    work = tmp / 'elsewhere'
    work.mkdir()
    r = _run([python, '-c', 'import relnas_zoo, relnas_zoo.config_files as c; print(relnas_zoo.__file__); '
              'print(c.find_config("search", "demo")); print(c.transfer_config("ssdlite_voc"))'], work)
    assert r.returncode == 0, r.stderr
    module, demo, transfer = r.stdout.split()
    assert str(ROOT) not in module and str(tmp / 'venv') in module       # the wheel's copy, not the checkout
    assert demo.startswith(str(tmp / 'venv')) and transfer.startswith(str(tmp / 'venv'))
    assert Path(demo).read_text() == (ROOT / 'configs/search/demo.yaml').read_text()
    r = _run([cli, 'info', 'relativenas_cifar10'], work)
    assert r.returncode == 0 and '3,875,950' in r.stdout, r.stderr
    r = _run([cli, 'train', '--config', 'cifar100', '--help'], work)
    assert r.returncode == 0 and ' 96 ' in next(line for line in r.stdout.splitlines() if 'batch_size' in line)
    r = _run([cli, 'search', '--config', 'demo', '--out', 'run', '--no-progress', '--set', 'generations=1',
              '--set', 'population=4', '--set', 'plots=false'], work)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / 'run' / 'genotype.json').is_file() and 'best genotype' in r.stdout


@pytest.mark.slow
@pytest.mark.mm
def test_openmmlab_tools_find_the_installed_transfer_configs(installed):
    pytest.importorskip('mmengine', reason='the OpenMMLab stack is not installed (make mm)')
    python, _, tmp = installed
    work = tmp / 'mm'
    work.mkdir()
    r = _run([python, '-c', 'from mmengine.config import Config; from relnas_zoo.config_files import transfer_config; '
              'c = Config.fromfile(transfer_config("comparison/ssdlite_mnasnet_voc")); '
              'print(c.model.backbone.type, c.model.backbone.get("model_name"))'], work)
    assert r.returncode == 0 and r.stdout.split()[0] == 'FeatureExtractorBackbone', r.stderr[-2000:]
    tools = Path(_run([python, '-c', 'import relnas_zoo, pathlib; print(pathlib.Path(relnas_zoo.__file__).parent '
                       '/ ".mim" / "tools")'], work).stdout.strip())
    assert sorted(p.name for p in tools.iterdir() if p.is_file()) == ['dist_common.sh', 'dist_test.sh', 'dist_train.sh',
                                                                     'install_mm.sh', 'test.py', 'train.py']
    r = subprocess.run(['bash', str(tools / 'dist_train.sh')], capture_output=True, text=True)  # sources its helper
    assert r.returncode == 2 and 'usage: tools/dist_train.sh CONFIG GPUS' in r.stderr, r.stderr
    r = _run([python, tools / 'train.py', '--help'], work)
    assert r.returncode == 0 and '--resume' in r.stdout, r.stderr[-2000:]
