# Table 5 (SSDLite, PASCAL VOC), MobileNet-V2 1x (torchvision mobilenet_v2) row.
# Everything but the backbone comes from ../ssdlite_voc.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/ssdlite_mobilenetv2_voc.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: torchvision's ImageNet weights.
_base_ = ['../ssdlite_voc.py']

model = dict(
    backbone=dict(
        _delete_=True, type='FeatureExtractorBackbone', model='mobilenet_v2', out_indices=(2, 3),
        norm_cfg=dict(type='SyncBN'),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mobilenet_v2-b0353104.pth')),
    neck=dict(in_channels=(96, 1280)),  # stride-16 and stride-32 levels
    bbox_head=dict(in_channels=(96, 1280, 512, 256, 256, 64)))
