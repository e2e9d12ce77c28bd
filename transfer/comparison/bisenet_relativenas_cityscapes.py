# Table 6 (BiSeNet, Cityscapes), RelativeNAS row: the task's own config, listed here so that the
# comparison has one config per row.
_base_ = ['../bisenet_cityscapes.py']
