# Table 6 (BiSeNet, Cityscapes), MobileNet-V2 1x (torchvision mobilenet_v2) row.
# Everything but the backbone comes from ../bisenet_cityscapes.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/bisenet_mobilenetv2_cityscapes.py 4 --cfg-options model.backbone.backbone_cfg.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: torchvision's ImageNet weights.
_base_ = ['../bisenet_cityscapes.py']

model = dict(
    backbone=dict(
        context_channels=(128, 96, 1280),  # 128 and the stride-16/32 widths
        backbone_cfg=dict(
            _delete_=True, type='FeatureExtractorBackbone', model='mobilenet_v2', out_indices=(0, 1, 2, 3),
            norm_cfg=dict(type='SyncBN'),
            init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mobilenet_v2-b0353104.pth'))))
