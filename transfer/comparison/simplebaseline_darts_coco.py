# Table 7 (SimpleBaseline, COCO keypoints), DARTS (V2 cells, C=48, 14 cells: the zoo's darts_v2) row.
# Everything but the backbone comes from ../simplebaseline_coco.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/simplebaseline_darts_coco.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: ImageNet weights of DARTS (our format or the DARTS/authors' layout).
_base_ = ['../simplebaseline_coco.py']

model = dict(
    backbone=dict(
        genotype='DARTS_V2', C=48,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/darts_imagenet.pth')),
    head=dict(in_channels=768))  # the deconvolutions read the stride-32 level
