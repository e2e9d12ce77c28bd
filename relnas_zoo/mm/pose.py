"""mmpose parts for SimpleBaseline on RelativeNAS: the box augmentation, ground-truth boxes and heatmap
decoding of SimpleBaseline's code, which the RelativeNAS transfer models were trained and tested with.

* ``ClippedNormalBBoxTransform``: mmpose's ``RandomBBoxTransform`` draws scale and rotation from normals
  truncated at one sigma (``rotate_factor=80`` means sigma 80 cut at 80). SimpleBaseline draws
  ``clip(N(0, 40), -80, 80)`` degrees with probability 0.6 and a scale ``clip(N(1, 0.3), 0.7, 1.3)``.
* ``SimpleBaselineCocoDataset``: SimpleBaseline reads a COCO box ``[x, y, w, h]`` as inclusive pixel
  indices, ``x2 = min(W - 1, x + max(0, w - 1))`` (``lib/dataset/coco.py:139-142``), one pixel smaller
  than mmpose's ``x + w``; the box centre and scale, and so every keypoint, follow from it.
* ``SimpleBaselineHeatmap``: mmpose's ``MSRAHeatmap`` decoding, except that a joint whose maximum is not
  positive sits at heatmap pixel (0, 0) (mmpose: -1) and the quarter-pixel shift towards the higher
  neighbour is applied on both axes only when ``1 < x < W-1`` and ``1 < y < H-1`` hold together
  (``lib/core/inference.py``; mmpose tests each axis alone).
"""
from typing import Optional, Tuple

import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmpose.codecs import MSRAHeatmap
from mmpose.codecs.utils import get_heatmap_maximum
from mmpose.datasets import CocoDataset
from mmpose.datasets.transforms import RandomBBoxTransform
from mmpose.registry import DATASETS, KEYPOINT_CODECS, TRANSFORMS

__all__ = ['ClippedNormalBBoxTransform', 'SimpleBaselineCocoDataset', 'SimpleBaselineHeatmap',
           'decode_simplebaseline_heatmaps']


@TRANSFORMS.register_module(force=True)
class ClippedNormalBBoxTransform(RandomBBoxTransform):
    """Box scale ``clip(N(1, scale_sigma), 1 -/+ scale_sigma)`` and rotation
    ``clip(N(0, rotate_sigma), +-rotate_max)`` with probability ``rotate_prob``; no shift."""

    def __init__(self, scale_sigma: float = 0.3, rotate_sigma: float = 40., rotate_max: float = 80.,
                 rotate_prob: float = 0.6) -> None:
        super().__init__(shift_factor=0., shift_prob=0., scale_factor=(1 - scale_sigma, 1 + scale_sigma),
                         scale_prob=1., rotate_factor=rotate_max, rotate_prob=rotate_prob)
        self.scale_sigma = scale_sigma
        self.rotate_sigma = rotate_sigma
        self.rotate_max = rotate_max

    @cache_randomness
    def _get_transform_params(self, num_bboxes: int) -> Tuple:
        offset = np.zeros((num_bboxes, 2), dtype=np.float32)
        scale = np.clip(np.random.randn(num_bboxes, 1) * self.scale_sigma + 1, 1 - self.scale_sigma,
                        1 + self.scale_sigma).astype(np.float32)
        rotate = np.clip(np.random.randn(num_bboxes) * self.rotate_sigma, -self.rotate_max, self.rotate_max)
        rotate = np.where(np.random.rand(num_bboxes) < self.rotate_prob, rotate, 0.).astype(np.float32)
        return offset, scale, rotate


def inclusive_pixel_box(bbox_xywh, img_w: int, img_h: int) -> Optional[np.ndarray]:
    """``[x1, y1, x2, y2]`` of a COCO box read as inclusive pixel indices, or None for an empty box."""
    x, y, w, h = (float(v) for v in bbox_xywh)
    x1, y1 = max(0., x), max(0., y)
    x2, y2 = min(img_w - 1., x1 + max(0., w - 1)), min(img_h - 1., y1 + max(0., h - 1))
    if x2 < x1 or y2 < y1:
        return None
    return np.array([[x1, y1, x2, y2]], dtype=np.float32)


@DATASETS.register_module(force=True)
class SimpleBaselineCocoDataset(CocoDataset):
    """mmpose's ``CocoDataset`` whose ground-truth person boxes are SimpleBaseline's (module docstring);
    instances whose area is 0 or whose box is empty are left out, as there."""

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        info = super().parse_data_info(raw_data_info)
        if info is None:
            return None
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        box = inclusive_pixel_box(ann['bbox'], img['width'], img['height'])
        if box is None or ann.get('area', 1) <= 0:
            return None
        info['bbox'] = box
        return info


def decode_simplebaseline_heatmaps(heatmaps: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Keypoints ``(K, 2)`` in heatmap pixels and their scores ``(K,)`` from heatmaps ``(K, H, W)``."""
    K, H, W = heatmaps.shape
    keypoints, scores = get_heatmap_maximum(heatmaps)
    keypoints[scores <= 0] = 0.
    x, y = keypoints[:, 0].astype(int), keypoints[:, 1].astype(int)
    inner = (1 < x) & (x < W - 1) & (1 < y) & (y < H - 1)
    k = np.flatnonzero(inner)
    dx = heatmaps[k, y[k], x[k] + 1] - heatmaps[k, y[k], x[k] - 1]
    dy = heatmaps[k, y[k] + 1, x[k]] - heatmaps[k, y[k] - 1, x[k]]
    keypoints[k] += np.stack([np.sign(dx), np.sign(dy)], axis=-1).astype(np.float32) * 0.25
    return keypoints, scores


@KEYPOINT_CODECS.register_module(force=True)
class SimpleBaselineHeatmap(MSRAHeatmap):
    """``MSRAHeatmap`` (same targets) decoding as SimpleBaseline (module docstring); no DARK."""

    def __init__(self, input_size, heatmap_size, sigma: float, blur_kernel_size: int = 11) -> None:
        super().__init__(input_size, heatmap_size, sigma, unbiased=False, blur_kernel_size=blur_kernel_size)

    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        keypoints, scores = decode_simplebaseline_heatmaps(encoded.copy())
        return keypoints[None] * self.scale_factor, scores[None]
