"""The search end to end on a tiny CIFAR layout: outputs, resume after a kill, NaN, errors, 2 processes."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import timm
import torch

import relnas_zoo
from relnas_zoo.search import SearchConfig, load_config, run_search
from relnas_zoo.search import context as runner_mod
from relnas_zoo.run_folder import FolderError

from datasets import write_cifar

ROOT = Path(__file__).resolve().parents[1]
TINY = ['C=4', 'layers=3', 'population=4', 'batch_size=32', 'eval_batch_size=64', 'cutout=8', 'plots=false']


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
    return write_cifar(tmp_path_factory.mktemp('cifar'), per_batch=24)


def _cmd(*args):
    return [sys.executable, str(ROOT / 'search/run.py'), '--no-progress', *args]


def _set(*items):
    return [a for item in items for a in ('--set', item)]


def _env():
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')


def _final(run_dir):
    pop = json.loads((run_dir / 'population.json').read_text())
    return (run_dir / 'genotype.json').read_text(), [p['vector'] for p in pop['population']]


def test_search_outputs_and_zoo_loads_the_genotype(cifar, tmp_path):
    out = tmp_path / 'run'
    cfg = SearchConfig(data=str(cifar), C=4, layers=3, population=4, generations=2, batch_size=32,
                       eval_batch_size=64, cutout=8, plots=True)
    res = run_search(cfg, out, progress=False)
    for name in ('genotype.json', 'population.json', 'evaluations.jsonl', 'config.yaml', 'split.json',
                 'losses.png', 'cells.png', 'checkpoint.pt'):
        assert (out / name).exists(), name
    lines = [json.loads(x) for x in (out / 'evaluations.jsonl').read_text().splitlines()]
    assert len(lines) == 8 == res.evaluations
    assert {l['generation'] for l in lines} == {0, 1}
    for key in ('pair', 'vector', 'genotype', 'train_loss', 'train_acc', 'val_loss', 'val_acc', 'seconds', 'role'):
        assert key in lines[0]
    assert sorted(l['role'] for l in lines if l['generation'] == 0) == ['fast', 'fast', 'slow', 'slow']
    assert lines[0]['lr'] == 0.1 and lines[-1]['lr'] < 0.1
    split = json.loads((out / 'split.json').read_text())
    assert len(split['train']) == len(split['val']) == 60 and not set(split['train']) & set(split['val'])
    model = timm.create_model('relativenas_cifar10', genotype=str(out / 'genotype.json'))
    assert model.genotype == relnas_zoo.load_genotype(out / 'genotype.json')
    for name in ('generations.jsonl', 'diversity.png'):
        assert (out / name).exists(), name
    pop = json.loads((out / 'population.json').read_text())
    assert pop['chosen_by'] == 'final_ranking'
    ranked = pop['population']
    assert [p['rank'] for p in ranked] == [1, 2, 3, 4]
    assert ranked[0]['individual'] == pop['best_individual'] == res.best_individual
    finals = [p['final_val_loss'] for p in ranked]
    assert finals == sorted(finals) and ranked[0]['final_val_loss'] == res.best_val_loss
    assert ranked[0]['genotype'] == {k: v for k, v in json.loads((out / 'genotype.json').read_text()).items()
                                     if k != 'name'}
    with pytest.raises(FolderError, match='--resume'):
        run_search(cfg, out, progress=False)


def test_final_ranking_uses_one_omega_for_everyone(cifar, tmp_path, monkeypatch):
    """Every individual of the final population is evaluated from the same Omega, none writes back, and
    the choice follows that ranking (not the last generation's pair losses)."""
    calls = []
    real = runner_mod.evaluate_candidate

    def spy(genotype, omega, net_args, train, val, settings, seed, write_back=True):
        calls.append((write_back, {k: v.clone() for k, v in omega.tensors.items()} if not write_back else None))
        return real(genotype, omega, net_args, train, val, settings, seed, write_back=write_back)

    monkeypatch.setattr(runner_mod, 'evaluate_candidate', spy)
    cfg = SearchConfig(data=str(cifar), C=4, layers=3, population=4, generations=2, batch_size=32,
                       eval_batch_size=64, cutout=8, plots=False)
    res = run_search(cfg, tmp_path / 'rank', progress=False)
    finals = [c for c in calls if not c[0]]
    assert len(calls) == 12 and len(finals) == 4 and all(c[0] for c in calls[:8])
    first = finals[0][1]
    for _, omega in finals[1:]:
        assert all(torch.equal(first[k], omega[k]) for k in first)   # the same Omega for all four
    pop = json.loads((tmp_path / 'rank' / 'population.json').read_text())
    best = min(pop['population'], key=lambda p: p['final_val_loss'])
    assert res.best_individual == best['individual']
    # the rule that was replaced would have picked by last_val_loss; both are recorded
    assert all(p['last_val_loss'] is not None for p in pop['population'])


def test_generation_log_and_summary(cifar, tmp_path):
    out = tmp_path / 'gl'
    cfg = SearchConfig(data=str(cifar), C=4, layers=3, population=4, generations=2, batch_size=32,
                       eval_batch_size=64, cutout=8, plots=False)
    run_search(cfg, out, progress=False)
    gens = [json.loads(x) for x in (out / 'generations.jsonl').read_text().splitlines()]
    assert [g['generation'] for g in gens] == [0, 1]
    evals = [json.loads(x) for x in (out / 'evaluations.jsonl').read_text().splitlines()]
    for g in gens:
        assert len(g['individuals']) == 4 and len(g['pairs']) == 2
        assert set(g['diversity']) == {'mean_pairwise_distance', 'distinct_genotypes'}
        assert 1 <= g['diversity']['distinct_genotypes'] <= 4 and g['diversity']['mean_pairwise_distance'] > 0
        for d in g['pairs']:
            li, lj = d['loss_i'], d['loss_j']
            assert d['fast'] == (d['i'] if li <= lj else d['j'])
            ev = {e['individual']: e for e in evals if e['generation'] == g['generation']}
            assert d['vector_i'] == ev[d['i']]['vector'] and d['loss_i'] == ev[d['i']]['val_loss']
        for ind in g['individuals']:
            assert ind['vector'] == ev[ind['individual']]['vector'] and ind['role'] == ev[ind['individual']]['role']
    r = subprocess.run(_cmd('--summary', str(out)), capture_output=True, text=True, env=_env())
    assert r.returncode == 0, r.stderr
    assert '2/2 generations done, finished' in r.stdout and 'chosen by final_ranking' in r.stdout
    assert 'normal:' in r.stdout and 'reduce:' in r.stdout
    from relnas_zoo.cli import main as cli_main
    assert cli_main(['search-summary', str(out)]) == 0


def test_checkpoint_of_the_slot_keyed_weight_set_is_refused(cifar, tmp_path):
    out = tmp_path / 'old'
    cfg = SearchConfig(data=str(cifar), C=4, layers=3, population=4, generations=1, batch_size=32,
                       eval_batch_size=64, cutout=8, plots=False)
    run_search(cfg, out, progress=False)
    state = torch.load(out / 'checkpoint.pt', weights_only=True)
    state['version'] = 1
    torch.save(state, out / 'checkpoint.pt')
    r = subprocess.run(_cmd('--resume', str(out)), capture_output=True, text=True, env=_env())
    assert r.returncode == 2 and 'one weight per' in r.stderr and 'start a new search' in r.stderr


# with a predictor: it decides pairs from generation 1 on (threshold low enough that it does)
PREDICTOR = ['generations=4', 'predictor=renas', 'predictor_warmup=1', 'predictor_threshold=0.3',
             'predictor_epochs=30']


@pytest.mark.slow
@pytest.mark.parametrize('predictor', [False, True], ids=['plain', 'predictor'])
def test_killed_run_resumes_to_the_same_result(cifar, tmp_path, predictor):
    args = ['--data', str(cifar), *_set(*TINY, *(PREDICTOR if predictor else ['generations=3']))]
    ref = tmp_path / 'ref'
    subprocess.run(_cmd('--out', str(ref), *args), check=True, env=_env(), capture_output=True)
    if predictor:
        gens = [json.loads(l) for l in (ref / 'generations.jsonl').read_text().splitlines()]
        assert sum(g['predicted_pairs'] for g in gens) >= 1, 'the predictor decided no pair: nothing to resume'

    run = tmp_path / 'killed'
    proc = subprocess.Popen(_cmd('--out', str(run), *args), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    log = run / ('generations.jsonl' if predictor else 'evaluations.jsonl')
    deadline = time.time() + 300
    while time.time() < deadline:  # kill in the middle of generation 1 (plain) or after generation 1
        if log.exists() and len(log.read_text().splitlines()) >= (2 if predictor else 6):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / 'population.json').exists(), 'the run finished before it was killed'
    r = subprocess.run(_cmd('--resume', str(run)), env=_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'resumed at generation' in (run / 'search.log').read_text()
    assert _final(run) == _final(ref)
    ref_log = [json.loads(l) for l in (ref / 'evaluations.jsonl').read_text().splitlines()]
    run_log = [json.loads(l) for l in (run / 'evaluations.jsonl').read_text().splitlines()]
    strip = lambda rows: [{k: v for k, v in r.items() if k != 'seconds'} for r in rows]
    assert strip(run_log) == strip(ref_log)  # no duplicated or missing evaluations
    gen = lambda d: (d / 'generations.jsonl').read_text()
    assert gen(run) == gen(ref)              # one line per generation, none duplicated by the resume
    pop = lambda d: json.loads((d / 'population.json').read_text())['population']
    assert pop(run) == pop(ref)              # the final ranking too


def test_ctrl_c_saves_and_says_how_to_resume(cifar, tmp_path):
    run = tmp_path / 'int'
    proc = subprocess.Popen(_cmd('--out', str(run), '--data', str(cifar), *_set(*TINY, 'generations=3')),
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = run / 'evaluations.jsonl'
    deadline = time.time() + 300
    while time.time() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert f'--resume {run}' in err
    state = torch.load(run / 'checkpoint.pt', weights_only=True)
    assert state['log_lines'] >= 2


def test_nan_candidate_loses_and_the_run_goes_on(cifar, tmp_path, monkeypatch, caplog):
    real = runner_mod.evaluate_candidate
    poisoned = []

    def fake(genotype, omega, net_args, train, val, settings, seed, write_back=True):
        res = real(genotype, omega, net_args, train, val, settings, seed, write_back=write_back)
        if not poisoned:  # the very first candidate diverges
            poisoned.append(seed)
            res.val_loss, res.weights = float('nan'), None
        return res

    monkeypatch.setattr(runner_mod, 'evaluate_candidate', fake)
    cfg = SearchConfig(data=str(cifar), C=4, layers=3, population=4, generations=2, batch_size=32,
                       eval_batch_size=64, cutout=8, plots=False)
    run_search(cfg, tmp_path / 'nan', progress=False)
    lines = [json.loads(x) for x in (tmp_path / 'nan' / 'evaluations.jsonl').read_text().splitlines()]
    assert lines[0]['val_loss'] is None and lines[0]['role'] == 'slow' and lines[1]['role'] == 'fast'
    assert len(lines) == 8
    assert 'non-finite loss' in caplog.text


@pytest.mark.slow
def test_two_processes_match_one_process_in_parallel_mode(cifar, tmp_path):
    args = ['--data', str(cifar), *_set(*TINY, 'generations=2', 'mode=parallel')]
    one = tmp_path / 'one'
    subprocess.run(_cmd('--out', str(one), *args), check=True, env=_env(), capture_output=True)
    two = tmp_path / 'two'
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port',
                        '29517', str(ROOT / 'search/run.py'), '--no-progress', '--out', str(two), *args],
                       env=_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert _final(two) == _final(one)
    rows = (two / 'evaluations.jsonl').read_text().splitlines()
    assert len(rows) == 8
    # every line once, not once per process: the log, search.log and the closing lines
    assert r.stderr.count('search: N=4') == 1 and r.stderr.count('generation 1: val loss') == 1, r.stderr[-3000:]
    assert (two / 'search.log').read_text().count('search: N=4') == 1
    assert r.stdout.count('best genotype') == 1 and r.stdout.count('use it:') == 1
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port',
                        '29518', str(ROOT / 'search/run.py'), '--no-progress', '--out', str(tmp_path / 'seq'),
                        '--data', str(cifar), *_set(*TINY, 'generations=1')],
                       env=_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode != 0 and 'mode=parallel' in r.stderr


def test_val_augment_reproduces_the_authors_validation(cifar, tmp_path):
    """Clean validation by default; val_augment=true validates on the training transform."""
    args = dict(data=str(cifar), C=4, layers=3, population=2, generations=1, batch_size=32, eval_batch_size=64,
                cutout=8, plots=False, final_ranking=False)
    losses = {}
    for flag in (False, True):
        run_search(SearchConfig(val_augment=flag, **args), tmp_path / str(flag), progress=False)
        rows = [json.loads(x) for x in (tmp_path / str(flag) / 'evaluations.jsonl').read_text().splitlines()]
        losses[flag] = [(r['train_loss'], r['val_loss']) for r in rows]
    assert [t for t, _ in losses[False]] == [t for t, _ in losses[True]]   # same training
    assert [v for _, v in losses[False]] != [v for _, v in losses[True]]   # other validation images
    pop = json.loads((tmp_path / 'False' / 'population.json').read_text())
    assert pop['chosen_by'] == 'last_generation'


def test_resume_keeps_the_runs_own_settings(cifar, tmp_path, caplog):
    """An edited config.yaml: a changed seed or lr is refused by name, more generations are taken."""
    import dataclasses
    from relnas_zoo.search import ConfigError, load_config
    cfg = SearchConfig(data=str(cifar), C=4, layers=3, population=4, generations=1, batch_size=32,
                       eval_batch_size=64, cutout=8, plots=False, final_ranking=False)
    out = tmp_path / 'run'
    run_search(cfg, out, progress=False)
    saved = load_config(out / 'config.yaml')
    for change in (dict(seed=1), dict(lr=0.05, cutout=0)):
        with pytest.raises(ConfigError) as e:
            run_search(dataclasses.replace(saved, **change), out, resume=True, progress=False)
        for key, value in change.items():
            assert f'{key} (' in str(e.value) and repr(value) in str(e.value)
    with pytest.raises(ConfigError, match='already done 1 generations'):
        run_search(dataclasses.replace(saved, generations=0), out, resume=True, progress=False)
    with caplog.at_level('INFO', logger='relnas_zoo.search'):
        result = run_search(dataclasses.replace(saved, generations=2, plots=False), out, resume=True, progress=False)
    assert 'resume: generations changed from 1 to 2' in caplog.text
    lines = (out / 'generations.jsonl').read_text().splitlines()
    assert len(lines) == 2 and result.genotype_path.is_file()


def test_a_new_search_never_writes_into_another_folders_files(cifar, tmp_path, capsys):
    from relnas_zoo.cli import main as cli_main
    args = ['search', '--no-progress', '--data', str(cifar), *_set(*TINY, 'generations=1', 'final_ranking=false')]
    notes = tmp_path / 'notes'
    notes.mkdir()
    (notes / 'todo.txt').write_text('mine\n')
    assert cli_main([*args, '--out', str(notes)]) == 2
    err = capsys.readouterr().err
    assert 'not empty (todo.txt)' in err and '--force' in err
    assert [p.name for p in notes.iterdir()] == ['todo.txt']               # nothing written, no search.log
    old = tmp_path / 'old'                                                # a search whose checkpoint was deleted
    assert cli_main([*args, '--out', str(old)]) == 0
    (old / 'checkpoint.pt').unlink()
    before = {p.name: p.read_bytes() for p in old.iterdir() if p.is_file()}
    assert cli_main([*args, '--out', str(old)]) == 2
    assert 'holds no search to resume' in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in old.iterdir() if p.is_file()} == before
    assert cli_main([*args, '--out', str(notes), '--force']) == 0          # the user's file stays
    assert (notes / 'todo.txt').read_text() == 'mine\n' and (notes / 'genotype.json').is_file()
    assert cli_main([*args, '--out', str(old), '--force']) == 0            # a fresh run: logs not appended to
    assert len((old / 'generations.jsonl').read_text().splitlines()) == 1
    assert len((old / 'evaluations.jsonl').read_text().splitlines()) == 4      # one generation of 4, once


def test_a_finished_run_given_more_generations_ranks_its_final_population(cifar, tmp_path, capsys):
    """--resume RUN --set generations=N after the final ranking: the new generations run, the final ranking
    is redone, and the outputs are those of an uninterrupted run of N generations."""
    from relnas_zoo.cli import main
    cfg = SearchConfig(data=str(cifar), C=4, layers=3, population=4, generations=1, batch_size=32,
                       eval_batch_size=64, cutout=8, plots=False)
    extended, straight = tmp_path / 'extended', tmp_path / 'straight'
    run_search(cfg, extended, progress=False)
    before = json.loads((extended / 'population.json').read_text())
    assert main(['search', '--resume', str(extended), '--set', 'seed=3', '--no-progress']) == 2
    assert '--set seed=3: a resumed search keeps the settings' in capsys.readouterr().err
    assert main(['search', '--resume', str(extended), '--set', 'generations=2', '--no-progress']) == 0
    out = capsys.readouterr().out
    genotype = extended / 'genotype.json'  # what to do with the result, as commands that work
    assert f"timm.create_model('relativenas_cifar10', genotype='{genotype}')" in out
    assert f"type='RelativeNASBackbone', genotype='{genotype}'" in out
    info = next(line for line in out.splitlines() if 'relnas-zoo info' in line).split('#')[0].split()
    assert main(info[1:]) == 0 and 'relativenas_cifar10' in capsys.readouterr().out
    import dataclasses
    run_search(dataclasses.replace(cfg, generations=2), straight, progress=False)
    after, want = (json.loads((d / 'population.json').read_text()) for d in (extended, straight))
    assert after['generations'] == 2 and after['population'] == want['population']
    assert (extended / 'genotype.json').read_text() == (straight / 'genotype.json').read_text()
    assert [p['final_val_loss'] for p in after['population']] != [p['final_val_loss'] for p in before['population']]
    assert load_config(extended / 'config.yaml').generations == 2  # the next --resume continues from 2
    capsys.readouterr()
    assert main(['search', '--resume', str(extended), '--no-progress']) == 0
    assert 'had already finished (2 generations and its final ranking); nothing was run' in capsys.readouterr().out


def test_summary_tells_a_running_search_from_a_stopped_one(cifar, tmp_path):
    """search-summary names the live process holding the folder, or says the run is not running and how
    to continue it (both were '1/2 generations done')."""
    import signal
    import yaml
    from relnas_zoo.search.summary import summarize
    out = tmp_path / 'run'
    run_search(SearchConfig(data=str(cifar), C=4, layers=3, population=4, generations=1, batch_size=32,
                            eval_batch_size=64, cutout=8, plots=False), out, progress=False)
    cfg = yaml.safe_load((out / 'config.yaml').read_text())
    (out / 'config.yaml').write_text(yaml.safe_dump(dict(cfg, generations=2)))  # one more generation to go
    assert f'1/2 generations done, not running (stopped or killed): continue with relnas-zoo search --resume {out}' \
        in summarize(out)
    holder = subprocess.Popen([sys.executable, '-c', 'import sys, time; from pathlib import Path; '
                               'from relnas_zoo.run_folder import folder_lock\n'
                               f'with folder_lock(Path({str(out)!r}), "search"):\n'
                               '    print("held", flush=True); time.sleep(120)'],
                              stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == 'held'
        assert f'1/2 generations done, running: search (pid {holder.pid} on' in summarize(out)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert 'not running (stopped or killed)' in summarize(out)


def test_summary_says_why_a_loss_is_missing(tmp_path):
    """A generation whose pairs the predictor decided has no loss: '-' with a word, not a bare nan."""
    import yaml
    from relnas_zoo.search.summary import summarize
    cfg = SearchConfig(population=2, generations=3, predictor='renas').to_dict()
    (tmp_path / 'config.yaml').write_text(yaml.safe_dump(cfg))
    genotype = relnas_zoo.PUBLISHED['relativenas'].to_dict()
    record = lambda g, loss: dict(generation=g, best_val_loss=loss, mean_val_loss=loss, predicted_pairs=int(loss is None),
                                  diversity=dict(mean_pairwise_distance=0.5, distinct_genotypes=2), best_individual=0,
                                  individuals=[dict(individual=k, genotype=genotype) for k in range(2)],
                                  pairs=[dict(i=0, j=1, fast=0, slow=1)])
    (tmp_path / 'generations.jsonl').write_text('\n'.join(json.dumps(record(g, l)) for g, l in
                                                          ((0, 2.1), (1, None))) + '\n')
    text = summarize(tmp_path)
    row = next(line for line in text.splitlines() if line.split()[:1] == ['1'])
    assert row.split()[1:3] == ['-', '-'] and 'nan ' not in text.replace("'nan': training", '')
    assert "'-': no loss, not trained: the predictor decided the pair" in text
