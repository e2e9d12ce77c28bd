"""The search with ``predictor: renas``: predicted pairs train nothing and leave Omega alone, the
slow-learner still moves, every decision is logged, the checkpoint holds the predictor, and bad values
are named. (Kill -9 and resume with a predictor: tests/test_search_run.py.)"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from relnas_zoo.genotypes import Genotype
from relnas_zoo.predictor.spaces import get_space
from relnas_zoo.predictor.predictor import RelativisticPredictor
from relnas_zoo.predictor.tables import search_log_pairs
from relnas_zoo.search import ConfigError, SearchConfig, run_search
from relnas_zoo.search import context as runner_mod
from relnas_zoo.search.summary import summarize
from relnas_zoo.search.weight_set import WeightSet

from datasets import write_cifar

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
    return write_cifar(tmp_path_factory.mktemp('cifar'), per_batch=24)


def _cfg(cifar, **kw):
    base = dict(data=str(cifar), C=4, layers=3, population=6, generations=2, batch_size=32, eval_batch_size=64,
                cutout=8, plots=False, predictor='renas', predictor_warmup=1, predictor_threshold=0.3,
                predictor_epochs=30)
    base.update(kw)
    return SearchConfig(**base)


@pytest.fixture(scope='module')
def predicted_run(cifar, tmp_path_factory):
    """One search whose generation 1 is planned by a predictor trained on generation 0's three pairs."""
    out = tmp_path_factory.mktemp('pred') / 'run'
    calls, merges = [], []
    real_eval, real_merge = runner_mod.evaluate_candidate, WeightSet.merge
    mp = pytest.MonkeyPatch()

    def spy_eval(genotype, omega, net_args, train, val, settings, seed, write_back=True):
        calls.append(write_back)
        return real_eval(genotype, omega, net_args, train, val, settings, seed, write_back=write_back)

    def spy_merge(self, fast, slow):
        merges.append(1)
        return real_merge(self, fast, slow)

    mp.setattr(runner_mod, 'evaluate_candidate', spy_eval)
    mp.setattr(WeightSet, 'merge', spy_merge)
    try:
        res = run_search(_cfg(cifar), out, progress=False)
    finally:
        mp.undo()
    gens = [json.loads(x) for x in (out / 'generations.jsonl').read_text().splitlines()]
    return dict(out=out, res=res, gens=gens, calls=calls, merges=merges)


def test_predicted_pairs_train_nothing_and_leave_omega_alone(predicted_run):
    gens, res = predicted_run['gens'], predicted_run['res']
    assert gens[0]['predicted_pairs'] == 0            # the warm-up generation is evaluated in full
    predicted = [d for g in gens for d in g['pairs'] if d['decided'] == 'predicted']
    evaluated = [d for g in gens for d in g['pairs'] if d['decided'] == 'evaluated']
    assert predicted, 'the predictor decided no pair; the test would show nothing'
    assert len(predicted) + len(evaluated) == 6
    trained = [c for c in predicted_run['calls'] if c]
    assert len(trained) == 2 * len(evaluated) == res.evaluations       # no candidate of a predicted pair trained
    assert len(predicted_run['calls']) - len(trained) == 6              # the final ranking: everyone
    assert len(predicted_run['merges']) == len(evaluated)               # Omega took weights from evaluated pairs only
    assert res.saved_evaluations == 2 * len(predicted)
    evals = [json.loads(x) for x in (predicted_run['out'] / 'evaluations.jsonl').read_text().splitlines()]
    assert len(evals) == res.evaluations
    for d in predicted:
        assert d['loss_i'] is None and d['loss_j'] is None and d['confidence'] >= 0.3
        assert d['fast'] == (d['i'] if d['score_i'] >= d['score_j'] else d['j'])
        inds = {x['individual']: x for x in gens[1]['individuals']}
        assert not inds[d['i']]['evaluated'] and inds[d['i']]['val_loss'] is None
        assert {inds[d['fast']]['role'], inds[d['slow']]['role']} == {'fast', 'slow'}


def test_slow_learner_of_a_predicted_pair_moves(predicted_run):
    gens = predicted_run['gens']
    pop = json.loads((predicted_run['out'] / 'population.json').read_text())['population']
    after = {p['individual']: p['vector'] for p in pop}
    before = {x['individual']: x['vector'] for x in gens[1]['individuals']}
    for d in gens[1]['pairs']:
        if d['decided'] == 'predicted':
            assert np.allclose(after[d['fast']], before[d['fast']], atol=1e-6)   # fast-learners stay
            assert not np.allclose(after[d['slow']], before[d['slow']], atol=1e-6)


def test_checkpoint_holds_the_predictor_and_its_training_pairs(predicted_run):
    out, gens = predicted_run['out'], predicted_run['gens']
    state = torch.load(out / 'checkpoint.pt', weights_only=True)['predictor']
    genotypes = [Genotype.from_dict(d) for d in json.loads(state['genotypes'])]
    # the training pairs are generations.jsonl's evaluated decisions, the same that `predictor train
    # --search-log` reads (predicted decisions are not evidence)
    log_genotypes, log_pairs = search_log_pairs(out)
    assert [(genotypes[a], genotypes[b]) for a, b in state['pairs']] == \
        [(log_genotypes[a], log_genotypes[b]) for a, b in log_pairs]
    evaluated = sum(d['decided'] == 'evaluated' and d['fast'] is not None for g in gens for d in g['pairs'])
    assert len(log_pairs) <= evaluated
    # generation 1's plan came from the saved predictor: it scores those genotypes exactly so again
    pred = RelativisticPredictor.from_state_dict(state['predictor'])
    assert pred.meta['generation'] == 1 and pred.meta['training_pairs'] == sum(
        d['decided'] == 'evaluated' for d in gens[0]['pairs'])
    inds = {x['individual']: Genotype.from_dict(x['genotype']) for x in gens[1]['individuals']}
    for d in gens[1]['pairs']:
        if d['decided'] == 'predicted':
            # the search's decider measures costs on the search's own proxy network (C=4, 3 cells here)
            space, fs, pair = get_space('relnas', proxy=(4, 3)), pred.meta['features'], [inds[d['i']], inds[d['j']]]
            # the default set, and on CIFAR-10 the NAS-Bench-301 table learnt beside the search's pairs
            assert fs == 'graph' and pred.meta['prior'] == 'naslib'
            s = pred.predict(space.feature_tensors(pair, fs), space.features(pair, fs))
            assert np.allclose(s, [d['score_i'], d['score_j']], atol=1e-5)


def test_summary_reports_saved_evaluations(predicted_run):
    n = predicted_run['res'].saved_evaluations
    text = summarize(predicted_run['out'])
    assert f'{n // 2} of 6 pairs decided without training, {n} candidate evaluations saved' in text


def test_the_paper_procedure_stays_the_default(cifar, tmp_path):
    assert SearchConfig().predictor == 'none'
    res = run_search(_cfg(cifar, predictor='none', population=4), tmp_path / 'plain', progress=False)
    gens = [json.loads(x) for x in (tmp_path / 'plain' / 'generations.jsonl').read_text().splitlines()]
    assert res.saved_evaluations == 0 and res.evaluations == 8
    assert all(d['decided'] == 'evaluated' for g in gens for d in g['pairs'])
    assert 'predictor' not in summarize(tmp_path / 'plain')


@pytest.mark.parametrize('field,value,message', [
    ('predictor', 'xgb', "predictor='xgb': choose none or renas"),
    ('predictor_warmup', 0, 'predictor_warmup=0: must be an int >= 1'),
    ('predictor_threshold', 0, 'predictor_threshold=0: must be a number > 0'),
    ('predictor_epochs', 2.5, 'predictor_epochs=2.5: must be an int >= 1'),
    ('predictor_batch_size', 0, 'predictor_batch_size=0: must be an int >= 1'),
    ('predictor_retrain_every', 0, 'predictor_retrain_every=0: must be an int >= 1'),
    ('predictor_prior', 'nb201', "predictor_prior='nb201': choose auto, none or nb301"),
    ('predictor_features', 'renas+zc', "predictor_features='renas+zc': feature set 'renas+zc' needs synflow"),
])
def test_bad_predictor_settings_are_named(cifar, field, value, message):
    with pytest.raises(ConfigError) as e:
        _cfg(cifar, **{field: value}).checked()
    assert message in str(e.value)


def test_run_py_refuses_a_bad_predictor_value(cifar, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / 'search/run.py'), '--no-progress', '--data', str(cifar),
                        '--out', str(tmp_path / 'x'), '--set', 'predictor=renass'], capture_output=True, text=True)
    assert r.returncode == 2 and "predictor='renass'" in r.stderr and 'none or renas' in r.stderr


def test_the_decider_takes_the_graph_recipe_and_an_earlier_run_resumes_with_its_own(cifar, tmp_path):
    """New runs fit with the graph set's recipe and, on CIFAR-10, NAS-Bench-301's table; a run started
    before the recipe fields existed (a checkpoint and config.yaml without them) resumes with the
    settings it began with."""
    import yaml
    from relnas_zoo.search.predicted_pairs import make_decider
    decider = make_decider(_cfg(cifar, predictor_epochs=None))
    assert (decider.config.epochs, decider.config.batch_size, decider.config.features) == (300, 1024, 'graph')
    assert decider.config.prior == 'naslib' and len(decider.prior_archs) == 725
    assert make_decider(_cfg(cifar, dataset='cifar100')).config.prior == 'none'   # not CIFAR-10's accuracies
    assert make_decider(_cfg(cifar, predictor_prior='none')).prior_archs == []
    renas = make_decider(_cfg(cifar, predictor_epochs=None, predictor_features='renas')).config
    assert (renas.epochs, renas.batch_size) == (50, 16)   # the renas sets keep the DARTS space's ReNAS recipe
    assert decider.space.proxy == (4, 3)  # costs on the search's own proxy network
    out = tmp_path / 'old'
    run_search(_cfg(cifar, generations=1, predictor_epochs=100), out, progress=False)
    state = torch.load(out / 'checkpoint.pt', weights_only=True)
    for key in ('predictor_batch_size', 'predictor_features', 'predictor_retrain_every', 'predictor_prior'):
        del state['config'][key]
    torch.save(state, out / 'checkpoint.pt')
    cfg = yaml.safe_load((out / 'config.yaml').read_text())
    for key in ('predictor_batch_size', 'predictor_features', 'predictor_retrain_every', 'predictor_prior'):
        del cfg[key]
    (out / 'config.yaml').write_text(yaml.safe_dump(cfg, sort_keys=False))
    r = subprocess.run([sys.executable, str(ROOT / 'search/run.py'), '--no-progress', '--resume', str(out),
                        '--set', 'generations=2'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    resumed = yaml.safe_load((out / 'config.yaml').read_text())
    assert (resumed['predictor_epochs'], resumed['predictor_batch_size'], resumed['predictor_features'],
            resumed['predictor_prior']) == (100, 1024, 'renas', 'none')
