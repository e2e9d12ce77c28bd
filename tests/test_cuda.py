"""CUDA paths of the search: candidates replayed as CUDA graphs train and validate as eager steps do.

These need a GPU; on a machine without one they are reported as skipped. Run them where a GPU is:
``python -m pytest -q tests/test_cuda.py``.
"""
import numpy as np
import pytest
import torch

from relnas_zoo.data import TensorBatches
from relnas_zoo.genotypes import RELATIVENAS
from relnas_zoo.search import WeightSet
from relnas_zoo.search.estimator import TrainSettings, evaluate_candidate, validation_loss

from datasets import write_cifar

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')]

NET = dict(C=8, layers=3, num_classes=10, stem_type='cifar')


def _splits(n=100, batch=16, channels_last=False):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, (2 * n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 2 * n)
    common = dict(mean=(0.5,) * 3, std=(0.25,) * 3, batch_size=batch, device='cuda', channels_last=channels_last)
    # 100 images at batch 16: 3 eager warm-up steps, one recorded, 2 replays, then an eager partial batch
    return (TensorBatches(imgs[:n], labels[:n], augment=True, cutout=8, **common),
            TensorBatches(imgs[n:], labels[n:], **common))


@pytest.fixture(autouse=True)
def _deterministic():
    old = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    yield
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old


@pytest.mark.parametrize('channels_last', [False, True])
def test_graphed_candidate_matches_eager(channels_last):
    train, val = _splits(channels_last=channels_last)
    omega = WeightSet.initial(0, torch.device('cuda'), **NET)
    res = {}
    for graphs in (False, True):
        s = TrainSettings(lr=0.05, drop_path=0.0, channels_last=channels_last, cuda_graphs=graphs)
        res[graphs] = evaluate_candidate(RELATIVENAS, omega, NET, train, val, s, seed=3)
    eager, graphed = res[False], res[True]
    assert graphed.train_loss == pytest.approx(eager.train_loss, rel=1e-4)
    assert graphed.val_loss == pytest.approx(eager.val_loss, rel=1e-4)
    assert graphed.train_acc == eager.train_acc and graphed.val_acc == eager.val_acc
    for k, v in eager.weights.items():  # every trained weight (and BN statistic) written back alike
        torch.testing.assert_close(graphed.weights[k], v, rtol=1e-4, atol=1e-5, msg=k)


def test_graphed_drop_path_is_seeded_and_draws_new_masks():
    train, val = _splits()
    omega = WeightSet.initial(0, torch.device('cuda'), **NET)
    s = TrainSettings(lr=0.05, drop_path=0.3, cuda_graphs=True)
    a = evaluate_candidate(RELATIVENAS, omega, NET, train, val, s, seed=5)
    b = evaluate_candidate(RELATIVENAS, omega, NET, train, val, s, seed=5)
    c = evaluate_candidate(RELATIVENAS, omega, NET, train, val, s, seed=6)
    assert a.val_loss == pytest.approx(b.val_loss, rel=1e-6)  # a candidate is a function of its seed
    assert a.val_loss != pytest.approx(c.val_loss, rel=1e-6)
    no_drop = evaluate_candidate(RELATIVENAS, omega, NET, train, val,
                                 TrainSettings(lr=0.05, drop_path=0.0, cuda_graphs=True), seed=5)
    assert a.train_loss != pytest.approx(no_drop.train_loss, rel=1e-6)  # the replays did drop paths


def test_graphed_candidate_leaves_the_global_cuda_rng_alone():
    train, val = _splits()
    omega = WeightSet.initial(0, torch.device('cuda'), **NET)
    torch.cuda.manual_seed(1234)
    expected = torch.rand(3, device='cuda')
    torch.cuda.manual_seed(1234)
    evaluate_candidate(RELATIVENAS, omega, NET, train, val, TrainSettings(lr=0.05, drop_path=0.3), seed=7)
    assert torch.equal(torch.rand(3, device='cuda'), expected)


def test_graphed_validation_matches_eager():
    from relnas_zoo.networks import RelativeNASNet
    _, val = _splits(n=200, batch=32)  # 6 full batches and a partial one
    model = RelativeNASNet(genotype=RELATIVENAS, **NET).cuda()
    eager = validation_loss(model, val, cuda_graphs=False)
    graphed = validation_loss(model, val, cuda_graphs=True)
    assert graphed[0] == pytest.approx(eager[0], rel=1e-5) and graphed[1] == eager[1]


def test_search_runs_on_cuda_with_graphs(tmp_path):
    from relnas_zoo.search import apply_overrides, run_search
    from relnas_zoo.search.config import SearchConfig
    data = write_cifar(tmp_path / 'cifar', per_batch=40)
    cfg = apply_overrides(SearchConfig(), [
        f'data={data}', 'device=cuda', 'C=4', 'layers=3', 'population=4', 'generations=2', 'batch_size=16',
        'eval_batch_size=32', 'plots=false', 'tensorboard=false']).checked()
    res = run_search(cfg, tmp_path / 'run', progress=False)
    assert (tmp_path / 'run' / 'genotype.json').exists() and np.isfinite(res.best_val_loss)
