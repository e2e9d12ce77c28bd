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
