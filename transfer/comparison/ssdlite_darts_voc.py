# Table 5 (SSDLite, PASCAL VOC), DARTS (V2 cells, C=48, 14 cells: the zoo's darts_v2) row.
# Everything but the backbone comes from ../ssdlite_voc.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/ssdlite_darts_voc.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: ImageNet weights of DARTS (our format or the DARTS/authors' layout).
_base_ = ['../ssdlite_voc.py']

model = dict(
    backbone=dict(
        genotype='DARTS_V2', C=48,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/darts_imagenet.pth')),
    neck=dict(in_channels=(384, 768)),  # stride-16 and stride-32 levels
    bbox_head=dict(in_channels=(384, 768, 512, 256, 256, 64)))
