"""mmpose parts for SimpleBaseline on RelativeNAS: the authors' box augmentation.

mmpose's ``RandomBBoxTransform`` draws scale and rotation from normals truncated at one sigma
(``rotate_factor=80`` means sigma 80 cut at 80). SimpleBaseline, and the authors' code built on it,
draw ``clip(N(0, 40), -80, 80)`` degrees with probability 0.6 and a scale ``clip(N(1, 0.3), 0.7, 1.3)``:
rotations are mostly small and a few reach the clip. This transform draws exactly that.
"""
from typing import Tuple

import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmpose.datasets.transforms import RandomBBoxTransform
from mmpose.registry import TRANSFORMS

__all__ = ['ClippedNormalBBoxTransform']


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
