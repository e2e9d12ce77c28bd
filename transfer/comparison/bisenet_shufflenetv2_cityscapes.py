# Table 6 (BiSeNet, Cityscapes), ShuffleNet-V2 1x (torchvision shufflenet_v2_x1_0) row.
# Everything but the backbone comes from ../bisenet_cityscapes.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/bisenet_shufflenetv2_cityscapes.py 4 --cfg-options model.backbone.backbone_cfg.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: torchvision's ImageNet weights.
_base_ = ['../bisenet_cityscapes.py']

model = dict(
    backbone=dict(
        context_channels=(128, 232, 1024),  # 128 and the stride-16/32 widths
        backbone_cfg=dict(
            _delete_=True, type='FeatureExtractorBackbone', model='shufflenet_v2_x1_0', out_indices=(0, 1, 2, 3),
            norm_cfg=dict(type='SyncBN'),
            init_cfg=dict(type='Pretrained', checkpoint='checkpoints/shufflenetv2_x1-5666bf0f80.pth'))))
