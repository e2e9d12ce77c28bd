"""Fault campaign: bad values, damaged files, busy folders and a full disk.

Each case runs a command in-process and expects exit status 2, one ``error:`` line naming the file or
value, and every folder the case touches unchanged except for what the command owns.
"""
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import timm
import torch

from relnas_zoo import save_checkpoint
from relnas_zoo.atomic import DiskFullError
from relnas_zoo.cli import main
from relnas_zoo.data.lmdb import (CorruptRecordError, DatabaseError, ImageNetLMDB, build, build_lmdb,
                                  scan_class_folders, verify_lmdb)
from relnas_zoo.run_folder import LOCK_NAME, FolderError, folder_lock

from datasets import write_cifar, write_imagenet

WNIDS = ['n01440764', 'n01530575']


def run_cli(argv, capsys):
    """(exit status, stdout, stderr) of ``relnas-zoo ARGV`` run in this process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(*folders):
    """Every file under ``folders`` with its bytes' digest (symlinks as their target)."""
    files = {}
    for folder in folders:
        for p in sorted(Path(folder).rglob('*')):
            if p.is_symlink():
                files[str(p)] = 'link:' + os.readlink(p)
            elif p.is_file():
                files[str(p)] = hashlib.sha1(p.read_bytes()).hexdigest()
            else:
                files[str(p)] = 'dir'
    return files


def expect_refusal(argv, message, capsys, *folders):
    """The command exits with 2, its last stderr line is one ``error:`` line matching ``message``, and the
    folders are left exactly as they were."""
    before = snapshot(*folders)
    code, out, err = run_cli(argv, capsys)
    last = err.strip().splitlines()[-1] if err.strip() else ''
    assert code == 2, (code, out, err)
    assert last.startswith('error:') or ': error: ' in last, err   # ours, or argparse's "prog: error: ..."
    assert re.search(message, last), (message, last)
    assert snapshot(*folders) == before
    return last


# ------------------------------------------------------------------------------------------------ files
@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """Damaged and wrong files of every kind the commands read."""
    d = tmp_path_factory.mktemp('files')
    model = timm.create_model('relativenas_cifar10', C=8, layers=5)
    save_checkpoint(model, d / 'good.pth')
    good = (d / 'good.pth').read_bytes()
    (d / 'empty.pth').write_bytes(b'')
    (d / 'text.pth').write_text('these are my notes, not weights\n')
    (d / 'truncated.pth').write_bytes(good[:len(good) // 2])
    (d / 'folder.pth').mkdir()
    ckpt = torch.load(d / 'good.pth', weights_only=True)
    ckpt['arch']['C'] = 200000  # an edited record asking for a network of hundreds of GB
    torch.save(ckpt, d / 'huge_record.pth')
    (d / 'nested.json').write_text('[' * 200000 + ']' * 200000)
    (d / 'latin1.json').write_bytes('{"name": "caf\xe9"}'.encode('latin-1'))
    (d / 'folder.json').mkdir()
    write_cifar(d / 'cifar')
    return d


@pytest.mark.parametrize('name, message', [
    ('empty.pth', r"checkpoint '.*empty\.pth' is empty \(0 bytes\)"),
    ('text.pth', r"checkpoint '.*text\.pth' is not a PyTorch file"),
    ('truncated.pth', r"checkpoint '.*truncated\.pth' is truncated"),
    ('folder.pth', r"checkpoint '.*folder\.pth' is a directory"),
    ('missing.pth', r"checkpoint '.*missing\.pth' does not exist"),
    ('huge_record.pth', r'arch record does not match the tensors.*C=200000 \(its tensors say 8\)'),
])
def test_bad_checkpoints_are_named_by_every_tool(files, name, message, capsys, tmp_path):
    t0 = time.perf_counter()
    expect_refusal(['validate', '--model', 'relativenas_cifar10', '--checkpoint', files / name, '--data',
                    files / 'cifar', '--no-progress'], message, capsys, files)
    expect_refusal(['convert', files / name, tmp_path / 'out.pth', '--model', 'relativenas_cifar10'], message,
                   capsys, files, tmp_path)
    expect_refusal(['export', 'relativenas_cifar10', '--checkpoint', files / name, '--hub', tmp_path / 'hub'],
                   message, capsys, files, tmp_path)
    assert time.perf_counter() - t0 < 30  # the huge record is refused before anything is allocated


def test_the_arch_record_is_checked_before_building(files):
    from relnas_zoo import model_from_checkpoint
    from relnas_zoo.weights import CheckpointMismatchError
    with pytest.raises(CheckpointMismatchError, match='C=200000'):
        model_from_checkpoint(files / 'huge_record.pth')
    assert model_from_checkpoint(files / 'good.pth').C == 8


@pytest.mark.parametrize('name, message', [
    ('nested.json', 'nests too deeply'),
    ('latin1.json', r'is not UTF-8 text \(byte \d+\)'),
    ('folder.json', 'is a directory'),
    ('missing.json', 'does not exist'),
])
def test_bad_genotype_files(files, name, message, capsys, tmp_path):
    expect_refusal(['info', 'relativenas_cifar10', '--genotype', files / name], f"'.*{name}' {message}", capsys,
                   files)
    expect_refusal(['plot', files / name, '--out', tmp_path / 'x.png'], message, capsys, files, tmp_path)


def test_bad_values_are_one_line_before_any_work(files, capsys, tmp_path, monkeypatch):
    cases = [
        (['info', 'relativenas', '--C', '7'], r'C=7: the initial channel count must be an even int'),
        (['info', 'relativenas', '--input-size', '0', '0'], r'argument --input-size: must be at least 1, got 0'),
        (['info', 'nosuchmodel'], r"unknown model 'nosuchmodel'; choose one of: relativenas"),
        (['export', 'nosuchmodel', '--onnx', tmp_path / 'x.onnx'], r"unknown model 'nosuchmodel'"),
        (['bench', 'nosuchmodel'], r"unknown model 'nosuchmodel': give a zoo model"),
        (['bench', 'relativenas_cifar10', '--json', tmp_path / 'no' / 'r.json'], r'the folder .*no does not exist'),
        (['validate', '--model', 'relativenas', '--checkpoint', 'x', '--data', 'y', '--batch-size', '0'],
         r'argument --batch-size: must be at least 1, got 0'),
        (['pack-lmdb', '--root', tmp_path, '--split', 'train', '--out', tmp_path / 'db', '--map-size-gb', '-1'],
         r'argument --map-size-gb: must be at least 1, got -1'),
        (['plot', 'RelativeNAS', '--out', tmp_path / 'missing' / 'cells.png'], r'the folder .*missing does not exist'),
        (['plot', 'RelativeNAS', '--out', tmp_path / 'cells.xyz'], r'the suffix must be one of .*\.png'),
        (['convert', files / 'good.pth', tmp_path / 'missing' / 'x.pth'], r'the folder .*missing does not exist'),
        (['search', '--out', tmp_path / 's', '--set', 'no_such_field=1'], r"unknown field 'no_such_field'"),
        (['search', '--resume', tmp_path / 'nothing'], r'nothing to resume'),
        (['train', '--resume', tmp_path / 'nothing'], r'nothing to resume: .*nothing/last\.pth does not exist'),
    ]
    for argv, message in cases:
        expect_refusal(argv, message, capsys, tmp_path, files)
    # --onnx into a missing folder fails before the model is even built
    monkeypatch.setattr(timm, 'create_model', lambda *a, **k: pytest.fail('the export started'))
    expect_refusal(['export', 'relativenas_cifar10', '--onnx', tmp_path / 'missing' / 'm.onnx'],
                   r'--onnx .*m\.onnx: the folder .*missing does not exist', capsys, tmp_path)


def test_convert_of_a_file_of_the_right_model_succeeds(files, capsys, tmp_path):
    """A plain state dict of the model (our layout) converts; it used to be refused by the check against
    the unpruned layout while the report said it fits that very model."""
    model = timm.create_model('relativenas_cifar10', C=8, layers=5)
    torch.save(model.state_dict(), tmp_path / 'plain.pth')
    code, out, err = run_cli(['convert', tmp_path / 'plain.pth', tmp_path / 'ours.pth', '--model',
                              'relativenas_cifar10', '--C', '8', '--layers', '5'], capsys)
    assert code == 0, err
    from relnas_zoo import model_from_checkpoint
    again = model_from_checkpoint(tmp_path / 'ours.pth')
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


# ------------------------------------------------------------------------------------------------ LMDB
@pytest.fixture(scope='module')
def database(tmp_path_factory):
    root = write_imagenet(tmp_path_factory.mktemp('ilsvrc'), WNIDS)
    out = tmp_path_factory.mktemp('db') / 'train'
    build_lmdb(scan_class_folders(root / 'train'), out, 'train', workers=1, progress=False)
    return root, out


def _copy_db(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ('data.mdb', 'lock.mdb'):
        if (src / name).exists():
            (dst / name).write_bytes((src / name).read_bytes())
    return dst


def _record_offsets(data: bytes):
    """Where each checked record's header starts inside data.mdb (records are stored inline or on
    overflow pages, whole)."""
    out, at = [], data.find(b'RNZ2')
    while at >= 0:
        out.append(at)
        at = data.find(b'RNZ2', at + 4)
    return out


@pytest.mark.parametrize('damage', ['image byte', 'label byte'])
def test_damaged_records_are_found_on_read_and_by_verify(database, tmp_path, capsys, damage):
    _, src = database
    db = _copy_db(src, tmp_path / 'db')
    raw = bytearray((db / 'data.mdb').read_bytes())
    at = _record_offsets(bytes(raw))[3]
    victim = at + (4 + 4 if damage == 'label byte' else 4 + 4 + 4 + 2 + 40 + 300)   # label, or mid-image
    raw[victim] ^= 0x10
    (db / 'data.mdb').write_bytes(bytes(raw))
    bad = verify_lmdb(db, full=True, progress=False)['bad']
    assert len(bad) == 1 and 'checksum mismatch' in bad[0][2]
    index, key, _ = bad[0]
    assert key == f'{index:09d}'
    code, out, err = run_cli(['pack-lmdb', '--verify', db, '--full', '--no-progress'], capsys)
    assert code == 2 and f'bad record {index} (key {key}): checksum mismatch' in out
    assert err.strip().startswith('error:') and '1 bad of 8 records' in err
    ds = ImageNetLMDB(db)
    with pytest.raises(CorruptRecordError, match=f'record {index} \\(key {key}\\) is damaged: checksum mismatch'):
        ds[index]
    ds[(index + 1) % len(ds)]  # the others read
    ds.close()


def test_truncated_and_metadata_less_databases(database, tmp_path, capsys):
    import lmdb
    _, src = database
    db = _copy_db(src, tmp_path / 'cut')
    size = (db / 'data.mdb').stat().st_size
    os.truncate(db / 'data.mdb', size // 2)
    expect_refusal(['pack-lmdb', '--verify', db, '--full', '--no-progress'],
                   r'data\.mdb is truncated: \d+ bytes, but its pages need \d+', capsys, db)
    with pytest.raises(DatabaseError, match='is truncated'):
        ImageNetLMDB(db)
    env = lmdb.open(str(tmp_path / 'nometa'), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b'000000000', b'x')
    env.close()
    expect_refusal(['pack-lmdb', '--verify', tmp_path / 'nometa'], r'no __meta__ record', capsys, tmp_path / 'nometa')
    expect_refusal(['pack-lmdb', '--verify', tmp_path / 'nothing'], r'is not an LMDB directory', capsys, tmp_path)


def test_a_database_of_the_previous_format_reads_unchecked(database, tmp_path, capsys, caplog):
    root, _ = database
    build_lmdb(scan_class_folders(root / 'train'), tmp_path / 'v2', 'train', workers=1, progress=False,
               checksums=False)   # the previous format, as older versions wrote it
    assert b'RNZ2' not in (tmp_path / 'v2' / 'data.mdb').read_bytes()
    ds = ImageNetLMDB(tmp_path / 'v2')
    assert 'carry no checksums' in caplog.text and not ds.checked
    assert ds.targets == [0, 0, 0, 0, 1, 1, 1, 1] and ds[0][1] == 0
    ds.close()
    code, out, _ = run_cli(['pack-lmdb', '--verify', tmp_path / 'v2', '--full', '--no-progress'], capsys)
    assert code == 0 and 'no checksums (an older format' in out


def test_the_builder_refuses_other_folders(database, tmp_path, capsys, monkeypatch):
    root, _ = database
    notes = tmp_path / 'notes'
    notes.mkdir()
    (notes / 'todo.txt').write_text('keep me\n')
    args = ['pack-lmdb', '--root', root, '--split', 'train', '--num-classes', '2', '--no-progress']
    expect_refusal(args + ['--out', notes], r'notes is not empty \(todo\.txt\) and holds no LMDB build', capsys,
                   notes)
    # a folder the user cannot write to (checked by permission, which root bypasses: simulated here)
    monkeypatch.setattr(build.os, 'access', lambda *a: False)
    last = expect_refusal(args + ['--out', tmp_path / 'ro'], r'cannot write to .*ro \(permission denied\)', capsys,
                          tmp_path / 'ro')
    assert 'map-size' not in last


# ------------------------------------------------------------------------------------------------ busy folders
@pytest.fixture
def busy_folder(tmp_path):
    """A folder whose lock a live process holds (as a running search would); killed with -9 at the end."""
    folder = tmp_path / 'busy'
    code = ('import sys, time; from pathlib import Path; from relnas_zoo.run_folder import folder_lock\n'
            'with folder_lock(Path(sys.argv[1]), "search"):\n    print("locked", flush=True); time.sleep(120)')
    holder = subprocess.Popen([sys.executable, '-c', code, str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == 'locked'
    yield folder, holder
    holder.kill()
    holder.wait()


def test_one_run_per_folder(busy_folder, files, database, capsys):
    folder, holder = busy_folder
    message = rf'busy is in use by a running search \(pid {holder.pid} on '
    expect_refusal(['search', '--config', 'demo', '--out', folder], message, capsys, folder)
    expect_refusal(['train', '--config', 'cifar10', '--data', files / 'cifar', '--out', folder, '--no-progress'],
                   message, capsys, folder)
    expect_refusal(['pack-lmdb', '--root', database[0], '--split', 'train', '--out', folder, '--num-classes', '0',
                    '--no-progress'], message, capsys, folder)
    holder.kill()   # kill -9: the kernel drops the lock with the process
    holder.wait()
    with folder_lock(folder, 'search'):
        assert (folder / LOCK_NAME).read_text().startswith(f'search (pid {os.getpid()}')


# ------------------------------------------------------------------------------------------------ search files
@pytest.fixture(scope='module')
def search_run(tmp_path_factory):
    """A tiny unfinished search (1 of 2 generations done, two checkpoints written)."""
    from relnas_zoo.search import SearchConfig, run_search
    out = tmp_path_factory.mktemp('search') / 'run'
    cfg = SearchConfig(dataset='digits', C=4, layers=3, population=2, generations=1, batch_size=32, subset=64,
                       eval_batch_size=64, cutout=0, plots=False, final_ranking=False)
    run_search(cfg, out, progress=False)
    cfg_text = (out / 'config.yaml').read_text().replace('generations: 1', 'generations: 2')
    (out / 'config.yaml').write_text(cfg_text)
    return out


def _copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in src.iterdir():
        if p.is_file():
            (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_a_search_keeps_the_previous_checkpoint_and_offers_it(search_run, tmp_path, capsys):
    run = _copy_run(search_run, tmp_path / 'run')
    assert (run / 'checkpoint.prev.pt').is_file()
    good = (run / 'checkpoint.pt').read_bytes()
    (run / 'checkpoint.pt').write_bytes(good[:len(good) // 3])
    expect_refusal(['search', '--resume', run, '--no-progress'],
                   r"search checkpoint '.*checkpoint\.pt' is truncated .* the previous checkpoint "
                   r"is kept: resume from it with mv .*checkpoint\.prev\.pt .*checkpoint\.pt", capsys, run)
    (run / 'checkpoint.pt').write_bytes(b'')
    expect_refusal(['search', '--resume', run], r'is empty \(0 bytes\)', capsys, run)
    os.replace(run / 'checkpoint.prev.pt', run / 'checkpoint.pt')     # what the message says to do
    code, _, err = run_cli(['search', '--resume', run, '--no-progress'], capsys)
    assert code == 0, err
    assert len((run / 'generations.jsonl').read_text().splitlines()) == 2


def test_a_full_disk_leaves_the_last_checkpoint_intact(search_run, tmp_path, capsys):
    run = _copy_run(search_run, tmp_path / 'run')
    before = (run / 'checkpoint.pt').read_bytes()
    # the kernel's own ENOSPC: the checkpoint's temporary file is /dev/full
    tmp = run / f'.checkpoint.pt.{os.getpid()}.tmp'
    tmp.symlink_to('/dev/full')
    code, _, err = run_cli(['search', '--resume', run, '--no-progress'], capsys)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f'error: no space left on the disk (or quota) of {run / "checkpoint.pt"}: nothing was written there and the '
        f'previous file, if any, is intact; free space and run the command again (long jobs: --resume)')
    assert (run / 'checkpoint.pt').read_bytes() == before and not tmp.exists() and not tmp.is_symlink()
    code, _, err = run_cli(['search', '--resume', run, '--no-progress'], capsys)   # space again: it goes on
    assert code == 0, err
    # save_checkpoint says the same and keeps the file it would have replaced
    model = timm.create_model('relativenas_cifar10', C=8, layers=5)
    save_checkpoint(model, tmp_path / 'w.pth')
    kept = (tmp_path / 'w.pth').read_bytes()
    (tmp_path / f'.w.pth.{os.getpid()}.tmp').symlink_to('/dev/full')
    with pytest.raises(DiskFullError, match='w.pth'):
        save_checkpoint(model, tmp_path / 'w.pth')
    assert (tmp_path / 'w.pth').read_bytes() == kept


def test_a_new_search_refuses_a_folder_of_other_files(tmp_path, capsys):
    notes = tmp_path / 'notes'
    notes.mkdir()
    (notes / 'paper.md').write_text('draft\n')
    expect_refusal(['search', '--config', 'demo', '--out', notes], r'notes is not empty \(paper\.md\)', capsys, notes)
    assert not (notes / LOCK_NAME).exists()
    old = tmp_path / 'old'
    old.mkdir()
    for name in ('config.yaml', 'genotype.json', 'evaluations.jsonl'):
        (old / name).write_text('{}\n')
    expect_refusal(['search', '--config', 'demo', '--out', old], r'holds no search to resume.*--force', capsys, old)
    with pytest.raises(FolderError):
        from relnas_zoo.search import SearchConfig, run_search
        run_search(SearchConfig(dataset='digits'), old, progress=False)


# ------------------------------------------------------------------------------------------------ training files
TRAIN_TINY = ['model=relativenas_cifar10', 'C=4', 'layers=3', 'batch_size=16', 'eval_batch_size=16', 'cutout=8',
              'workers=0', 'log_every=0', 'tensorboard=false', 'subset=32', 'epochs=2', 'device=cpu']


def test_a_resumed_training_keeps_its_settings_and_checkpoints(files, tmp_path, capsys):
    run = tmp_path / 'train'
    sets = [a for item in TRAIN_TINY for a in ('--set', item)]
    code, _, err = run_cli(['train', '--config', 'cifar10', '--data', files / 'cifar', '--out', run, '--no-progress',
                            *sets], capsys)
    assert code == 0, err
    assert (run / 'last.prev.pth').is_file()   # the first epoch's checkpoint, kept when the second replaced it
    expect_refusal(['train', '--config', 'cifar10', '--data', files / 'cifar', '--out', run, *sets],
                   r'already holds a training run; continue it with --resume', capsys, run)
    config = (run / 'config.yaml').read_text()
    (run / 'config.yaml').write_text(config.replace('lr: 0.025', 'lr: 0.1'))
    expect_refusal(['train', '--resume', run], r'config\.yaml changed since the run started: lr \(0\.025 -> 0\.1\)',
                   capsys, run)
    (run / 'config.yaml').write_text(config)
    good = (run / 'last.pth').read_bytes()
    (run / 'last.pth').write_bytes(good[:100])
    expect_refusal(['train', '--resume', run], r"training checkpoint '.*last\.pth' is truncated .* the previous "
                   r"checkpoint is kept: resume from it with mv .*last\.prev\.pth .*last\.pth", capsys, run)


def test_a_running_search_holds_its_folder_until_it_dies(tmp_path, capsys):
    """A real search (not a stand-in) keeps its folder's lock for its whole run; kill -9 releases it."""
    folder = tmp_path / 'live'
    cmd = [sys.executable, '-m', 'relnas_zoo', 'search', '--config', 'demo', '--out', str(folder), '--no-progress',
           '--set', 'generations=100', '--set', 'plots=false']
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, OMP_NUM_THREADS='1'))
    try:
        deadline = time.time() + 120
        while not (folder / 'evaluations.jsonl').is_file() or not (folder / 'evaluations.jsonl').read_text():
            assert proc.poll() is None and time.time() < deadline, 'the search did not start'
            time.sleep(0.2)
        message = rf'live is in use by a running search \(pid {proc.pid} on '
        code, _, err = run_cli(['search', '--resume', folder, '--no-progress'], capsys)
        assert code == 2 and re.search(message, err), err
        code, _, err = run_cli(['search', '--config', 'demo', '--out', folder, '--force'], capsys)
        assert code == 2 and re.search(message, err), err      # --force never touches a live run's files
        assert (folder / 'checkpoint.pt').is_file()
    finally:
        proc.kill()
        proc.wait()
    with folder_lock(folder, 'search'):
        pass


def test_a_damaged_label_index_is_found(database, tmp_path, capsys):
    _, src = database
    db = _copy_db(src, tmp_path / 'db')
    raw = bytearray((db / 'data.mdb').read_bytes())
    key = b'__labels__000000000'
    at = raw.find(key) + len(key) + 4     # an LMDB leaf node keeps the value right after its key: crc, labels
    raw[at] ^= 0x01
    (db / 'data.mdb').write_bytes(bytes(raw))
    bad = verify_lmdb(db, full=True, progress=False)['bad']
    assert bad == [(0, '__labels__000000000', 'label index chunk: label chunk checksum mismatch')]
    with pytest.raises(CorruptRecordError, match='label chunk checksum mismatch; find the damaged records'):
        ImageNetLMDB(db).targets


@pytest.mark.parametrize('script, args', [
    ('tools/validate.py', ['--model', 'relativenas_cifar10', '--checkpoint', '{bad}', '--data', '{data}']),
    ('tools/convert_checkpoint.py', ['{bad}', '{out}', '--model', 'relativenas_cifar10']),
])
def test_the_scripts_say_one_line(files, tmp_path, script, args):
    """The scripts users know print the one line too: no traceback, exit status 2."""
    root = Path(__file__).resolve().parents[1]
    values = dict(bad=files / 'truncated.pth', data=files / 'cifar', out=tmp_path / 'o.pth')
    r = subprocess.run([sys.executable, str(root / script), *[a.format(**values) for a in args]],
                       capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"error: checkpoint '{values['bad']}' is truncated "
                                             f"({(files / 'truncated.pth').stat().st_size} bytes, the end of its zip "
                                             f"archive is missing): an interrupted write or copy"]


def test_a_run_that_fails_at_start_leaves_no_folder(tmp_path, capsys):
    """The folder a failed start made (holding only its lock file) is removed; a folder that was there stays."""
    from relnas_zoo.cli import main
    from relnas_zoo.run_folder import LOCK_NAME, folder_lock
    for command in (['search', '--config', 'cifar10'], ['train', '--config', 'cifar10']):
        out = tmp_path / command[0]
        assert main([*command, '--data', str(tmp_path / 'nodata'), '--out', str(out)]) == 2
        assert 'cifar-10-batches-py' in capsys.readouterr().err and not out.exists()
    new = tmp_path / 'new'
    with pytest.raises(RuntimeError):
        with folder_lock(new, 'search'):
            raise RuntimeError('failed before writing anything')
    assert not new.exists()
    kept = tmp_path / 'kept'
    kept.mkdir()
    with pytest.raises(RuntimeError):
        with folder_lock(kept, 'search'):
            raise RuntimeError('failed')
    assert kept.is_dir()
    with folder_lock(new, 'search'):
        (new / 'checkpoint.pt').write_bytes(b'x')
    assert sorted(p.name for p in new.iterdir()) == sorted(['checkpoint.pt', LOCK_NAME])
