"""Weight loading: our format, the authors' DARTS-style format, safe loading and mismatch reports."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch

from relnas_zoo import CheckpointMismatchError, RelativeNASNet, VARIANTS, model_from_checkpoint, save_checkpoint
from relnas_zoo.weights import UnreadableFileError, load_checkpoint_file

ROOT = Path(__file__).resolve().parents[1]


def authors_model(name, **kw):
    """The authors' network as built by their code: every preprocess layer, dead ones included."""
    m = RelativeNASNet(**dict(VARIANTS[name], **kw), prune_unused=False)
    # non-trivial BN statistics so that a wrongly mapped buffer changes the outputs
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.1, 0.1)
    return m.eval()


def authors_file_through_timm(tmp_path, authors_layout, name, **kw):
    """(the authors' network, its file in their layout, our model loaded from it by timm's file route)."""
    src = authors_model(name, **kw)
    path = tmp_path / f'{name}_authors.pt'
    torch.save(authors_layout(src.state_dict()), path)
    model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    size = (1, 3, 224, 224) if VARIANTS[name]['stem_type'] == 'imagenet' else (2, 3, 32, 32)
    x = torch.randn(*size)
    with torch.no_grad():
        assert torch.equal(model(x), src(x))
    return src, path, model


def test_authors_key_layout_matches_reference(authors_layout):
    sd = authors_layout(authors_model('relativenas', auxiliary=True).state_dict())
    # keys of the authors' released files
    for key in ['stem0.0.weight', 'stem0.1.running_mean', 'stem0.3.weight', 'stem1.1.weight',
                'cells.0.preprocess0.conv_1.weight', 'cells.0.preprocess0.conv_2.weight',
                'cells.0.preprocess0.bn.running_var', 'cells.1.preprocess0.op.1.weight',
                'cells.1.preprocess0.op.2.weight', 'cells.4.preprocess0.op.1.weight',  # dead, still in theirs
                'auxiliary_head.features.2.weight', 'auxiliary_head.features.3.weight',
                'auxiliary_head.features.5.weight', 'auxiliary_head.classifier.weight', 'classifier.weight']:
        assert key in sd, key
    # normal cell: op 0 is sep_conv_3x3 (dw 1, pw 2, BN 3, dw 5, pw 6, BN 7); op 1 dil_conv_5x5 (1, 2, 3)
    for k in (1, 2, 3, 5, 6, 7):
        assert f'cells.1._ops.0.op.{k}.weight' in sd
    assert sd['cells.1._ops.1.op.1.weight'].shape[-1] == 5 and 'cells.1._ops.1.op.5.weight' not in sd
    # reduction cell: op 5 is skip_connect at stride 2 (a factorized reduce)
    assert 'cells.4._ops.5.conv_1.weight' in sd
    assert not any('auxiliary_head.features.6' in k for k in sd)  # no BN after the 2x2 conv on ImageNet


@pytest.mark.parametrize('wrap', ['plain', 'state_dict', 'module'])
def test_authors_checkpoint_through_timm_file(tmp_path, authors_layout, wrap):
    src = authors_model('relativenas_cifar10')
    sd = authors_layout(src.state_dict())
    if wrap == 'module':
        sd = {f'module.{k}': v for k, v in sd.items()}
    payload = {'state_dict': sd, 'epoch': 600} if wrap == 'state_dict' else sd
    path = tmp_path / 'cifar10_model.pt'
    torch.save(payload, path)
    m = timm.create_model('relativenas_cifar10', pretrained=True,
                          pretrained_cfg_overlay=dict(file=str(path))).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(m(x), src(x))
    assert len(m.state_dict()) < len(sd)  # dead keys dropped


def test_authors_imagenet_checkpoint_identical_outputs(tmp_path, authors_layout):
    src, _, m = authors_file_through_timm(tmp_path, authors_layout, 'relativenas')
    dead = [k for k in authors_layout(src.state_dict()) if k.startswith(('cells.4.preprocess0', 'cells.9.preprocess0'))]
    assert dead and not any(k in m.state_dict() for k in dead)
    assert sum(src.state_dict()[k].numel() for k in dead if k.endswith(('weight', 'bias'))) == 85_192


def test_state_dict_and_checkpoint_path_routes(tmp_path, authors_layout):
    src = authors_model('darts_v2_cifar10')
    sd = authors_layout(src.state_dict())
    x = torch.randn(2, 3, 32, 32)
    a = timm.create_model('darts_v2_cifar10', pretrained=True, pretrained_cfg_overlay=dict(state_dict=dict(sd))).eval()
    path = tmp_path / 'w.pt'
    torch.save({'state_dict': {f'module.{k}': v for k, v in sd.items()}}, path)
    b = timm.create_model('darts_v2_cifar10', checkpoint_path=str(path)).eval()
    with torch.no_grad():
        ref = src(x)
        assert torch.equal(a(x), ref) and torch.equal(b(x), ref)


def test_pretrained_with_new_classes_and_in_chans(tmp_path, authors_layout):
    src = authors_model('relativenas_cifar10')
    path = tmp_path / 'w.pt'
    torch.save(authors_layout(src.state_dict()), path)
    m = timm.create_model('relativenas_cifar10', pretrained=True, num_classes=3, in_chans=1,
                          pretrained_cfg_overlay=dict(file=str(path)))
    assert m.classifier.out_features == 3 and m.stem[0].in_channels == 1
    torch.testing.assert_close(m.stem[0].weight, src.stem[0].weight.sum(1, keepdim=True))
    torch.testing.assert_close(m.cells[3].nodes['0'].op1.op[1].weight, src.cells[3].nodes['0'].op1.op[1].weight)


def test_our_format_round_trip(tmp_path):
    m = timm.create_model('relativenas_cifar100', C=8, layers=5).eval()
    path = tmp_path / 'ours.pth'
    save_checkpoint(m, path)
    assert not list(tmp_path.glob('.*tmp*'))  # atomic write leaves no temporary behind
    raw = load_checkpoint_file(path)
    assert raw['format'] == 'relnas_zoo' and raw['arch']['C'] == 8
    back = model_from_checkpoint(path).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(back(x), m(x))
    via_timm = timm.create_model('relativenas_cifar100', C=8, layers=5, pretrained=True,
                                 pretrained_cfg_overlay=dict(file=str(path))).eval()
    with torch.no_grad():
        assert torch.equal(via_timm(x), m(x))


def test_mismatch_names_keys_and_probable_model(tmp_path, authors_layout):
    path = tmp_path / 'cifar.pt'
    torch.save(authors_layout(authors_model('relativenas_cifar10').state_dict()), path)
    with pytest.raises(CheckpointMismatchError) as e:
        timm.create_model('relativenas', pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    msg = str(e.value)
    assert "timm.create_model('relativenas')" in msg
    assert 'missing keys: stem0.0.weight' in msg and 'unexpected keys: stem.0.weight' in msg
    assert "It looks like a checkpoint for timm.create_model('relativenas_cifar10')" in msg


def test_mismatch_between_genotypes_is_recognised(tmp_path):
    darts = timm.create_model('darts_v2_cifar10')
    path = tmp_path / 'darts.pt'
    torch.save(darts.state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match=r"probably|looks like a checkpoint for "
                                                      r"timm.create_model\('darts_v2_cifar10'\)"):
        timm.create_model('relativenas_cifar10', checkpoint_path=str(path))
    c100 = timm.create_model('relativenas_cifar100')
    with pytest.raises(CheckpointMismatchError, match=r"shape mismatches: classifier.weight: checkpoint \(100, 576\) "
                                                      r"vs model \(10, 576\)"):
        timm.create_model('relativenas_cifar10').load_state_dict(c100.state_dict())


def test_our_file_for_another_model_says_so(tmp_path):
    path = tmp_path / 'small.pth'
    save_checkpoint(RelativeNASNet(C=8, layers=5, num_classes=10), path)
    with pytest.raises(CheckpointMismatchError, match=r"The file was written for RelativeNASNet\(genotype='RelativeNAS', "
                                                      r"C=8, layers=5"):
        timm.create_model('relativenas_cifar10').load_state_dict(load_checkpoint_file(path))


def test_pretrained_without_a_file_explains():
    with pytest.raises(ValueError, match=r"pretrained_cfg_overlay=dict\(file="):
        timm.create_model('relativenas', pretrained=True)


class _Payload:
    def __reduce__(self):
        return (os.system, ('touch /tmp/relnas_zoo_pwned',))


def test_checkpoints_never_execute_code(tmp_path):
    path = tmp_path / 'evil.pt'
    torch.save({'state_dict': {}, 'x': _Payload()}, path)
    marker = Path('/tmp/relnas_zoo_pwned')
    marker.unlink(missing_ok=True)
    with pytest.raises(UnreadableFileError, match='weights_only=True'):
        load_checkpoint_file(path)
    with pytest.raises(RuntimeError, match='weights_only=True blocked'):     # timm's own loader refuses it too
        timm.create_model('relativenas_cifar10', checkpoint_path=str(path))
    assert not marker.exists()


def test_convert_tool(tmp_path, authors_layout):
    src = authors_model('relativenas_cifar10')
    theirs = tmp_path / 'theirs.pt'
    torch.save({'state_dict': {f'module.{k}': v for k, v in authors_layout(src.state_dict()).items()}}, theirs)
    out = tmp_path / 'ours.pth'
    r = subprocess.run([sys.executable, str(ROOT / 'tools/convert_checkpoint.py'), str(theirs), str(out),
                        '--model', 'relativenas_cifar10'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'verified' in r.stdout
    m = model_from_checkpoint(out).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(m(x), src(x))
    bad = subprocess.run([sys.executable, str(ROOT / 'tools/convert_checkpoint.py'), str(theirs), str(out),
                          '--model', 'relativenas'], capture_output=True, text=True)
    assert bad.returncode == 2 and 'relativenas_cifar10' in bad.stderr


def test_authors_keys_load_under_a_prefix_in_a_parent_module(authors_layout):
    """Frameworks (mmengine, DDP wrappers) load the parent: the network's own load hook converts."""
    src = authors_model('relativenas_cifar10')
    parent = torch.nn.Module()
    parent.backbone = timm.create_model('relativenas_cifar10')
    sd = {f'backbone.{k}': v for k, v in authors_layout(src.state_dict()).items()}
    result = parent.load_state_dict(sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(parent.backbone.eval()(x), src(x))


def test_authors_file_with_auxiliary_head_loads_into_an_inference_model(tmp_path, authors_layout):
    """Their released files come from training with --auxiliary: the head's keys are simply not needed."""
    src, path, _ = authors_file_through_timm(tmp_path, authors_layout, 'relativenas_cifar10', auxiliary=True)
    trainable = timm.create_model('relativenas_cifar10', auxiliary=True, checkpoint_path=str(path))
    torch.testing.assert_close(trainable.auxiliary_head.classifier.weight, src.auxiliary_head.classifier.weight)


def test_strict_load_is_strict_and_the_loaders_take_what_the_model_uses(tmp_path):
    """load_state_dict(strict=True) refuses keys of parts the model lacks (PyTorch's promise); the
    authors' layout is still converted inside it; the loaders that build a model for a file drop them."""
    trained = timm.create_model('relativenas_cifar10', C=8, layers=5, auxiliary=True)
    sd = trained.state_dict()
    model = timm.create_model('relativenas_cifar10', C=8, layers=5)
    with pytest.raises(CheckpointMismatchError, match='also holds an auxiliary head.*auxiliary=True'):
        model.load_state_dict(sd)
    result = model.load_state_dict(sd, strict=False)
    assert result.unexpected_keys and all(k.startswith('auxiliary_head.') for k in result.unexpected_keys)
    assert not result.missing_keys
    save_checkpoint(trained, tmp_path / 'trained.pth')
    with pytest.raises(CheckpointMismatchError, match='auxiliary head'):
        timm.create_model('relativenas_cifar10', C=8, layers=5, checkpoint_path=str(tmp_path / 'trained.pth'))
    for m in (timm.create_model('relativenas_cifar10', C=8, layers=5, pretrained=True,
                                pretrained_cfg_overlay=dict(file=str(tmp_path / 'trained.pth'))),
              model_from_checkpoint(tmp_path / 'trained.pth', auxiliary=False)):
        assert m.auxiliary_head is None
        assert all(torch.equal(v, sd[k]) for k, v in m.state_dict().items())
