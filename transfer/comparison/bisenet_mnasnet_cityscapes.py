# Table 6 (BiSeNet, Cityscapes), MnasNet 1.0 (torchvision mnasnet1_0) row.
# Everything but the backbone comes from ../bisenet_cityscapes.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/bisenet_mnasnet_cityscapes.py 4 --cfg-options model.backbone.backbone_cfg.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: torchvision's ImageNet weights.
_base_ = ['../bisenet_cityscapes.py']

model = dict(
    backbone=dict(
        context_channels=(128, 96, 1280),  # 128 and the stride-16/32 widths
        backbone_cfg=dict(
            _delete_=True, type='FeatureExtractorBackbone', model='mnasnet1_0', out_indices=(0, 1, 2, 3),
            norm_cfg=dict(type='SyncBN'),
            init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mnasnet1.0_top1_73.512-f206786ef8.pth'))))
