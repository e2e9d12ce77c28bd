"""VOC2007 mAP as the authors' SSDLite evaluation computes it (EMI-Group/TransferLearning-Tasks,
SSDLite/eval_metrics.py and vision/utils/box_utils.py), the protocol of the paper's Table 5.

It differs from mmdet's ``VOCMetric`` in two places: IoU is computed on continuous coordinates
(``(x2 - x1) * (y2 - y1)``, plus 1e-5 in the denominator) where mmdet adds 1 to widths and heights, and a
detection matches when its IoU is *above* the threshold where mmdet accepts equality. The rest is the
VOC2007 protocol: detections of a class in descending score, each matched to the ground truth box of
highest IoU in its image, a difficult box neither rewarded nor penalised, a box matched twice a false
positive, 11-point interpolated AP, mAP the mean over classes. A class without non-difficult ground truth
is left out of the mean (the authors' code stops with an error there).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import List, Sequence

import numpy as np
from mmdet.evaluation.metrics import VOCMetric
from mmdet.registry import METRICS
from mmengine.logging import print_log

__all__ = ['PlainIoUVOCMetric', 'plain_iou', 'voc07_average_precision', 'plain_iou_map']


def plain_iou(box: np.ndarray, boxes: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """IoU of one ``[x1, y1, x2, y2]`` box with each row of ``boxes``, without the legacy +1."""
    lt, rb = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:4], boxes[:, 2:4])
    overlap = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = np.prod(np.clip(box[2:4] - box[:2], 0, None))
    areas = np.prod(np.clip(boxes[:, 2:4] - boxes[:, :2], 0, None), axis=1)
    return overlap / (area + areas - overlap + eps)


def voc07_average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """The VOC2007 11-point AP: the mean over recall 0, 0.1, ..., 1 of the best precision at that recall or above."""
    ap = 0.
    for t in np.arange(0., 1.1, 0.1):
        above = recall >= t
        ap += (precision[above].max() if above.any() else 0.) / 11.
    return float(ap)


def plain_iou_map(dets: Sequence[Sequence[np.ndarray]], gts: Sequence[dict], num_classes: int,
                  iou_thr: float = 0.5) -> tuple:
    """mAP and per-class AP (None: no non-difficult box of that class).

    Args:
        dets: per image, per class, an ``(n, 5)`` array of ``x1, y1, x2, y2, score``.
        gts: per image, ``bboxes`` ``(m, 4)`` and ``labels`` ``(m,)``, and ``bboxes_ignore`` /
            ``labels_ignore`` for the difficult boxes.
    """
    aps: List = []
    for c in range(num_classes):
        gt_boxes, difficult = [], []
        for gt in gts:
            boxes = np.concatenate([gt['bboxes'][gt['labels'] == c], gt['bboxes_ignore'][gt['labels_ignore'] == c]])
            flags = np.r_[np.zeros((gt['labels'] == c).sum(), bool), np.ones((gt['labels_ignore'] == c).sum(), bool)]
            gt_boxes.append(boxes.reshape(-1, 4))
            difficult.append(flags)
        n_true = sum(int((~d).sum()) for d in difficult)
        if n_true == 0:
            aps.append(None)
            continue
        image = np.concatenate([np.full(len(d[c]), i) for i, d in enumerate(dets)]).astype(int)
        found = np.concatenate([np.asarray(d[c]).reshape(-1, 5) for d in dets])
        order = np.argsort(-found[:, 4], kind='stable')
        tp, fp = np.zeros(len(order)), np.zeros(len(order))
        matched = set()
        for rank, j in enumerate(order):
            i = image[j]
            if len(gt_boxes[i]) == 0:
                fp[rank] = 1
                continue
            ious = plain_iou(found[j, :4], gt_boxes[i])
            best = int(np.argmax(ious))
            if ious[best] > iou_thr:
                if not difficult[i][best]:
                    if (i, best) in matched:
                        fp[rank] = 1
                    else:
                        tp[rank] = 1
                        matched.add((i, best))
            else:
                fp[rank] = 1
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        with np.errstate(invalid='ignore', divide='ignore'):
            precision = np.nan_to_num(tp / (tp + fp))
        aps.append(voc07_average_precision(precision, tp / n_true))
    valid = [a for a in aps if a is not None]
    return (float(np.mean(valid)) if valid else 0.), aps


@METRICS.register_module(force=True)
class PlainIoUVOCMetric(VOCMetric):
    """``VOCMetric`` (same inputs and keys, ``pascal_voc/mAP``) computing the authors' VOC2007 AP (module
    docstring)."""

    def __init__(self, iou_thr: float = 0.5, **kwargs) -> None:
        super().__init__(iou_thrs=iou_thr, metric='mAP', eval_mode='11points', **kwargs)

    def compute_metrics(self, results: list) -> dict:
        gts, dets = zip(*results)
        classes = self.dataset_meta['classes']
        out = OrderedDict()
        for thr in self.iou_thrs:
            mean_ap, aps = plain_iou_map(dets, gts, len(classes), thr)
            rows = ', '.join(f'{name} {ap:.4f}' for name, ap in zip(classes, aps) if ap is not None)
            print_log(f'AP per class (IoU > {thr}, no +1): {rows}', logger='current')
            out[f'AP{int(thr * 100):02d}'] = round(mean_ap, 4)
        out['mAP'] = sum(out.values()) / len(out)
        out.move_to_end('mAP', last=False)
        return out
