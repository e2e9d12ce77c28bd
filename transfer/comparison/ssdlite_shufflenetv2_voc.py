# Table 5 (SSDLite, PASCAL VOC), ShuffleNet-V2 1x (torchvision shufflenet_v2_x1_0) row.
# Everything but the backbone comes from ../ssdlite_voc.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/ssdlite_shufflenetv2_voc.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: torchvision's ImageNet weights.
_base_ = ['../ssdlite_voc.py']

model = dict(
    backbone=dict(
        _delete_=True, type='FeatureExtractorBackbone', model='shufflenet_v2_x1_0', out_indices=(2, 3),
        norm_cfg=dict(type='SyncBN'),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/shufflenetv2_x1-5666bf0f80.pth')),
    neck=dict(in_channels=(232, 1024)),  # stride-16 and stride-32 levels
    bbox_head=dict(in_channels=(232, 1024, 512, 256, 256, 64)))
