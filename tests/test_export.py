"""relnas-zoo export: ONNX files that reproduce the model, checked in ONNX Runtime before they are written."""
import sys

import numpy as np
import timm
import torch

import relnas_zoo
from relnas_zoo.cli import main

ARGS = ['--C', '16', '--layers', '5', '--input-size', '64', '64']


def _trained_like(path):
    """A checkpoint whose BN statistics are not the defaults (so folding them is really tested)."""
    torch.manual_seed(0)
    model = timm.create_model('relativenas', C=16, layers=5).train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 3, 64, 64))
    relnas_zoo.save_checkpoint(model.eval(), path)
    return model


def test_export_classifier_with_weights(tmp_path, capsys):
    import onnxruntime as ort
    model = _trained_like(tmp_path / 'w.pth')
    out = tmp_path / 'model.onnx'
    assert main(['export', 'relativenas', '--checkpoint', str(tmp_path / 'w.pth'), '--onnx', str(out), *ARGS]) == 0
    assert 'max abs diff' in capsys.readouterr().out
    sess = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    x = torch.randn(5, 3, 64, 64)                                   # another batch size: a dynamic axis
    (got,) = sess.run(None, {'image': x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-4, atol=1e-4)
    names = {n.op_type for n in __import__('onnx').load(str(out)).graph.node}
    assert 'BatchNormalization' not in names                         # folded by default


def test_export_backbone_levels(tmp_path):
    import onnxruntime as ort
    out = tmp_path / 'backbone.onnx'
    assert main(['export', 'relativenas', '--features', '--out-indices', '1', '2', '3', '--onnx', str(out),
                 *ARGS]) == 0
    sess = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    feats = sess.run(None, {'image': np.random.randn(2, 3, 64, 64).astype(np.float32)})
    ref = timm.create_model('relativenas', C=16, layers=5, features_only=True, out_indices=(1, 2, 3))
    assert [f.shape[1] for f in feats] == ref.feature_info.channels()
    assert [64 // f.shape[-1] for f in feats] == ref.feature_info.reduction()


def test_export_refuses_a_file_that_does_not_match(tmp_path, capsys):
    out = tmp_path / 'bad.onnx'
    assert main(['export', 'relativenas', '--onnx', str(out), '--tolerance', '-1', *ARGS]) == 2
    assert 'differs from PyTorch' in capsys.readouterr().err and not out.exists()


def test_export_without_the_deploy_extra_names_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    assert main(['export', 'relativenas', '--onnx', str(tmp_path / 'x.onnx'), *ARGS]) == 2
    assert 'relnas_zoo[deploy]' in capsys.readouterr().err


def _with_bn_statistics(model, size=64):
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, 3, size, size))
    return model.eval()


def test_pad_channels_computes_the_same_function():
    from relnas_zoo.deploy import pad_channels
    for name in ('relativenas', 'relativenas_cifar10'):
        model = _with_bn_statistics(timm.create_model(name, C=14, layers=5))
        padded = pad_channels(model, 8)
        assert padded.C == 16 and all(c.out_channels % 8 == 0 for c in padded.cells)
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            torch.testing.assert_close(padded(x), model(x), rtol=1e-4, atol=1e-5)
            want = model.forward_intermediates(x, intermediates_only=True)
            got = padded.forward_intermediates(x, intermediates_only=True)
        for level, (w, g, keep) in enumerate(zip(want, got, padded.channel_layouts)):
            torch.testing.assert_close(g.index_select(1, keep), w, rtol=1e-4, atol=1e-5)
            dropped = torch.ones(g.shape[1], dtype=torch.bool)
            dropped[keep] = False
            assert g[:, dropped].abs().max() == 0, f'level {level}: added channels must stay zero'


def test_export_pads_channels_and_keeps_backbone_widths(tmp_path, capsys):
    import onnxruntime as ort
    out = tmp_path / 'backbone.onnx'
    args = ['--C', '14', '--layers', '5', '--input-size', '64', '64']
    assert main(['export', 'relativenas', '--features', '--out-indices', '0', '2', '3', '--onnx', str(out), *args]) == 0
    assert 'padded to x8' in capsys.readouterr().out
    sess = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    feats = sess.run(None, {'image': np.random.randn(2, 3, 64, 64).astype(np.float32)})
    ref = timm.create_model('relativenas', C=14, layers=5, features_only=True, out_indices=(0, 2, 3))
    assert [f.shape[1] for f in feats] == ref.feature_info.channels()
    conv_widths = {i.dims[0] for i in __import__('onnx').load(str(out)).graph.initializer if len(i.dims) == 4}
    assert conv_widths == {8, 16, 32, 64}                    # 7/14/28/56-channel convs padded to multiples of 8


def test_bench_command_times_and_profiles(tmp_path, capsys):
    import json
    report = tmp_path / 'bench.json'
    assert main(['bench', 'relativenas', '--C', '14', '--layers', '5', '--input-size', '64', '64',
                 '--runtime', 'eager', 'bn_folded', 'onnxruntime', '--batch-size', '1', '2', '--rounds', '2',
                 '--warmup', '1', '--profile', '--json', str(report)]) == 0
    text = capsys.readouterr().out
    assert 'x eager' in text and 'op type' in text
    rec = json.loads(report.read_text())
    assert {(r['runtime'], r['batch_size']) for r in rec['results']} == {
        (r, b) for r in ('eager', 'bn_folded', 'onnxruntime') for b in (1, 2)}
    assert all(r['ms'] > 0 for r in rec['results'])
    prof = rec['onnx_profile']
    assert prof['exported_ops']['Conv'] > 0 and 'BatchNormalization' not in prof['exported_ops']
    assert 'Pad' not in prof['exported_ops']                          # even sizes: the reductions only slice
    assert sum(prof['ms_per_op_type'].values()) > 0
