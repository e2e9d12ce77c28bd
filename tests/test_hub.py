"""timm hub folders (config.json + model.safetensors) and safetensors checkpoints."""
import json

import numpy as np
import pytest
import timm
import torch

from relnas_zoo import model_from_checkpoint, save_checkpoint, save_genotype
from relnas_zoo.cli import main
from relnas_zoo.encoding import decode, random_vector
from relnas_zoo.hub import HubExportError, export_hub
from relnas_zoo.weights import UnreadableFileError, create_model_for_checkpoint, load_checkpoint_file


def _same_outputs(a, b, size):
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


def test_a_hub_folder_round_trips_a_published_model(tmp_path):
    m = timm.create_model('relativenas_cifar10').eval()
    folder = export_hub(m, tmp_path / 'hub')
    assert sorted(p.name for p in folder.iterdir()) == ['config.json', 'model.safetensors']
    cfg = json.loads((folder / 'config.json').read_text())
    assert cfg['architecture'] == 'relativenas_cifar10' and cfg['num_classes'] == 10
    assert cfg['model_args']['genotype']['name'] == 'RelativeNAS' and cfg['model_args']['C'] == 36
    assert cfg['pretrained_cfg']['input_size'] == [3, 32, 32]
    assert cfg['pretrained_cfg']['mean'] == pytest.approx([0.49139968, 0.48215827, 0.44653124])
    loaded = timm.create_model(f'local-dir:{folder}', pretrained=True)
    assert _same_outputs(loaded, m, (32, 32))
    assert loaded.pretrained_cfg['crop_pct'] == m.pretrained_cfg['crop_pct']


def test_a_searched_genotype_travels_with_its_weights(tmp_path):
    """What a search writes (genotype.json), trained weights in our format, through the command line."""
    genotype = decode(random_vector(np.random.default_rng(5)))
    save_genotype(genotype, tmp_path / 'genotype.json')
    net = timm.create_model('relativenas_cifar10', genotype=str(tmp_path / 'genotype.json'), C=8, layers=5,
                            num_classes=7)
    save_checkpoint(net, tmp_path / 'final.pth')
    assert main(['export', 'relativenas_cifar10', '--checkpoint', str(tmp_path / 'final.pth'),
                 '--hub', str(tmp_path / 'hub')]) == 0
    loaded = timm.create_model(f'local-dir:{tmp_path / "hub"}', pretrained=True)
    assert loaded.genotype.normal == genotype.normal and loaded.genotype.reduce == genotype.reduce
    assert (loaded.C, loaded.layers, loaded.num_classes) == (8, 5, 7) and _same_outputs(loaded, net, (32, 32))


def test_hub_export_refuses_what_it_would_overwrite(tmp_path, capsys):
    m = timm.create_model('relativenas_cifar10', C=8, layers=5)
    (tmp_path / 'notes').mkdir()
    (tmp_path / 'notes' / 'todo.txt').write_text('mine')
    with pytest.raises(HubExportError, match='not empty'):
        export_hub(m, tmp_path / 'notes')
    assert [p.name for p in (tmp_path / 'notes').iterdir()] == ['todo.txt']
    (tmp_path / 'file').write_text('x')
    with pytest.raises(HubExportError, match='is a file'):
        export_hub(m, tmp_path / 'file')
    export_hub(m, tmp_path / 'notes', overwrite=True)
    assert sorted(p.name for p in (tmp_path / 'notes').iterdir()) == ['config.json', 'model.safetensors']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['file', 'notes']            # no temporary folder left
    assert main(['export', 'relativenas_cifar10']) == 2
    assert '--hub DIR' in capsys.readouterr().err
    assert main(['export', 'relativenas_cifar10', '--hub', str(tmp_path / 'h'), '--features']) == 2
    assert 'backbone' in capsys.readouterr().err and not (tmp_path / 'h').exists()


def test_safetensors_checkpoints_load_everywhere_ours_do(tmp_path):
    m = timm.create_model('relativenas_cifar100', C=8, layers=5).eval()
    path = tmp_path / 'w.safetensors'
    save_checkpoint(m, path, extra=dict(epoch=3, note='final'))
    raw = path.read_bytes()
    assert raw[8:9] == b'{' and b'"format":"relnas_zoo"' in raw.replace(b' ', b'')  # a safetensors header
    ckpt = load_checkpoint_file(path)
    assert ckpt['format'] == 'relnas_zoo' and ckpt['arch']['C'] == 8 and (ckpt['epoch'], ckpt['note']) == (3, 'final')
    assert _same_outputs(model_from_checkpoint(path), m, (32, 32))
    assert _same_outputs(create_model_for_checkpoint('relativenas_cifar100', ckpt), m, (32, 32))
    via_timm = timm.create_model('relativenas_cifar100', C=8, layers=5, checkpoint_path=str(path))
    assert _same_outputs(via_timm, m, (32, 32))
    overlay = timm.create_model('relativenas_cifar100', C=8, layers=5, pretrained=True,
                                pretrained_cfg_overlay=dict(file=str(path)))
    assert _same_outputs(overlay, m, (32, 32))
    with pytest.raises(ValueError, match='JSON values only'):
        save_checkpoint(m, tmp_path / 'x.safetensors', extra=dict(optimizer=torch.zeros(1)))
    assert not (tmp_path / 'x.safetensors').exists()
    (tmp_path / 'bad.safetensors').write_bytes(b'\x00' * 16)
    with pytest.raises(UnreadableFileError, match='bad.safetensors'):
        load_checkpoint_file(tmp_path / 'bad.safetensors')


def test_a_folder_carries_the_papers_claims_only_for_its_network_and_weights(tmp_path, capsys):
    """Random weights or a searched genotype: config.json says what the weights are, not the paper's figures."""
    genotype = decode(random_vector(np.random.default_rng(6)))
    save_genotype(genotype, tmp_path / 'g.json')
    assert main(['export', 'relativenas_cifar10', '--genotype', str(tmp_path / 'g.json'), '--C', '8', '--layers', '5',
                 '--hub', str(tmp_path / 'random')]) == 0
    assert 'random initial weights' in capsys.readouterr().out
    cfg = json.loads((tmp_path / 'random' / 'config.json').read_text())['pretrained_cfg']
    text = json.dumps(cfg)
    assert cfg['tag'] == 'random-init' and 'nothing was trained' in text and '%' not in text
    trained = timm.create_model('relativenas_cifar10')
    save_checkpoint(trained, tmp_path / 'paper_net.pth')
    assert main(['export', 'relativenas_cifar10', '--checkpoint', str(tmp_path / 'paper_net.pth'),
                 '--hub', str(tmp_path / 'paper')]) == 0
    assert json.loads((tmp_path / 'paper' / 'config.json').read_text())['pretrained_cfg']['tag'] == 'paper'
    searched = timm.create_model('relativenas_cifar10', genotype=str(tmp_path / 'g.json'), C=8, layers=5)
    save_checkpoint(searched, tmp_path / 'searched.pth')
    assert main(['export', 'relativenas_cifar10', '--checkpoint', str(tmp_path / 'searched.pth'),
                 '--hub', str(tmp_path / 'searched')]) == 0
    cfg = json.loads((tmp_path / 'searched' / 'config.json').read_text())['pretrained_cfg']
    assert cfg['tag'] == 'custom' and 'searched.pth' in json.dumps(cfg) and '%' not in json.dumps(cfg)
