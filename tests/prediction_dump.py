"""A test evaluator for OpenMMLab's own test entry point: writes each image's predictions as JSON
(boxes/labels/scores, label maps, keypoints), so tests compare them without unpickling anything.
Used as ``--cfg-options custom_imports.imports=[relnas_zoo.mm,prediction_dump] test_evaluator.type=PredictionDump
test_evaluator.out=FILE`` with tests/ on PYTHONPATH."""
import importlib
import json
from pathlib import Path

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS


def _plain(v):
    if hasattr(v, 'cpu'):
        v = v.cpu().numpy()
    return np.asarray(v).tolist()


class PredictionDump(BaseMetric):
    def __init__(self, out: str, **_ignored):  # the replaced evaluator's own arguments are ignored
        super().__init__()
        self.out = out

    def process(self, data_batch, data_samples):
        for ds in data_samples:
            item = dict(img_path=Path(ds.get('img_path', '')).name, id=_plain(ds.get('id', -1)))
            pred = ds.get('pred_instances', {})
            for key in ('bboxes', 'labels', 'scores', 'keypoints', 'keypoint_scores'):
                if key in pred:
                    item[key] = _plain(pred[key])
            if 'pred_sem_seg' in ds:
                item['label_map'] = _plain(ds['pred_sem_seg']['data'][0])
            self.results.append(item)

    def compute_metrics(self, results):
        Path(self.out).write_text(json.dumps(results))
        return dict(dumped=len(results))


for _package in ('mmengine', 'mmdet', 'mmseg', 'mmpose'):  # a metric type is looked up in the config's scope
    try:
        _registry = METRICS if _package == 'mmengine' else importlib.import_module(f'{_package}.registry').METRICS
    except ImportError:
        continue
    _registry.register_module(module=PredictionDump, force=True)
