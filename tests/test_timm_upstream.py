"""timm's own model test suite (tests/test_models.py of the installed timm version), run on our models.

The test files come from the source distribution of exactly the installed timm version, downloaded once
into ``.cache/timm-src`` (never copied into this repository). A timm release that changes the model
contract then fails here. Run alone with ``.venv/bin/python -m pytest tests/test_timm_upstream.py``.
"""
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import timm

from relnas_zoo.variants import VARIANTS

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / '.cache' / 'timm-src'
MODELS = sorted(VARIANTS)
K_EXPR = ' or '.join(MODELS)


@pytest.fixture(scope='module')
def timm_tests() -> Path:
    """The tests/ folder of the installed timm's source distribution (downloaded once, then cached)."""
    version = timm.__version__
    src = CACHE / f'timm-{version}'
    if not (src / 'tests' / 'test_models.py').exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        sdist = CACHE / f'timm-{version}.tar.gz'
        if not sdist.exists():
            r = subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-binary', ':all:', '--no-deps',
                                '--quiet', f'timm=={version}', '-d', str(CACHE)], capture_output=True, text=True)
            assert r.returncode == 0 and sdist.exists(), \
                f'could not fetch the timm {version} source distribution from the package index:\n{r.stderr[-2000:]}'
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(f'timm-{version}/tests/')
                       or m.name == f'timm-{version}/pyproject.toml']
            tar.extractall(CACHE, members=members, filter='data')
    return src


def _env():
    # the suite's own defaults (CPU, its timeouts); our models are registered by '-p relnas_zoo'
    return dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '2'), PYTHONUNBUFFERED='1')


@pytest.mark.slow
def test_timm_model_suite_passes_for_our_models(timm_tests):
    """Every test of timm's tests/test_models.py that selects our models, all markers."""
    r = subprocess.run([sys.executable, '-m', 'pytest', '-p', 'relnas_zoo', '-q', '-rA', '-p', 'no:cacheprovider',
                        'tests/test_models.py', '-k', K_EXPR],
                       cwd=timm_tests, capture_output=True, text=True, env=_env(), timeout=1200)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    passed = re.findall(r'^PASSED tests/test_models.py::(\w+)\[(?:\d+-)?([\w.]+)\]', out, re.M)
    assert not re.search(r'^(FAILED|ERROR) ', out, re.M), out[-6000:]
    by_model = {m: {t for t, name in passed if name.split('.')[0] == m} for m in MODELS}
    for m, tests in by_model.items():
        # forward, backward, default cfgs (the model API contract), torchscript, features, fx (+ scripted)
        assert {'test_model_forward', 'test_model_backward', 'test_model_default_cfgs',
                'test_model_forward_torchscript', 'test_model_forward_features', 'test_model_forward_fx',
                'test_model_backward_fx', 'test_model_forward_fx_torchscript'} <= tests, (m, tests)


def test_timm_feature_api_tests_pass_for_our_models(timm_tests):
    """timm parametrizes its forward_intermediates tests by model module (ours is not in its list), so
    call those test functions directly on our models."""
    code = (
        'import sys; sys.path.insert(0, "."); import relnas_zoo; from tests import test_models as t\n'
        f'for name in {MODELS!r}:\n'
        '    t.test_model_forward_intermediates(name, 1)\n'
        '    t.test_model_forward_intermediates_features(name, 1)\n'
        '    print("ok", name)\n')
    r = subprocess.run([sys.executable, '-c', code], cwd=timm_tests, capture_output=True, text=True, env=_env(),
                       timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    assert r.stdout.count('ok ') == len(MODELS)
