# Table 7 (SimpleBaseline, COCO keypoints), RelativeNAS row: the task's own config, listed here so that the
# comparison has one config per row.
_base_ = ['../simplebaseline_coco.py']
