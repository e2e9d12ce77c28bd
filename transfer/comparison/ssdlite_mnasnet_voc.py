# Table 5 (SSDLite, PASCAL VOC), MnasNet 1.0 (torchvision mnasnet1_0) row.
# Everything but the backbone comes from ../ssdlite_voc.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/ssdlite_mnasnet_voc.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: torchvision's ImageNet weights.
_base_ = ['../ssdlite_voc.py']

model = dict(
    backbone=dict(
        _delete_=True, type='FeatureExtractorBackbone', model='mnasnet1_0', out_indices=(2, 3),
        norm_cfg=dict(type='SyncBN'),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mnasnet1.0_top1_73.512-f206786ef8.pth')),
    neck=dict(in_channels=(96, 1280)),  # stride-16 and stride-32 levels
    bbox_head=dict(in_channels=(96, 1280, 512, 256, 256, 64)))
