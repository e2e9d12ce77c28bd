# Table 6 (BiSeNet, Cityscapes), DARTS (V2 cells, C=48, 14 cells: the zoo's darts_v2) row.
# Everything but the backbone comes from ../bisenet_cityscapes.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/bisenet_darts_cityscapes.py 4 --cfg-options model.backbone.backbone_cfg.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: ImageNet weights of DARTS (our format or the DARTS/authors' layout).
_base_ = ['../bisenet_cityscapes.py']

model = dict(
    backbone=dict(
        context_channels=(128, 384, 768),  # 128 and the stride-16/32 widths
        backbone_cfg=dict(
            genotype='DARTS_V2', C=48,
            init_cfg=dict(type='Pretrained', checkpoint='checkpoints/darts_imagenet.pth'))))
