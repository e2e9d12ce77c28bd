# Table 7 (SimpleBaseline, COCO keypoints), MobileNet-V2 1x (torchvision mobilenet_v2) row.
# Everything but the backbone comes from ../simplebaseline_coco.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/simplebaseline_mobilenetv2_coco.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: torchvision's ImageNet weights.
_base_ = ['../simplebaseline_coco.py']

model = dict(
    backbone=dict(
        _delete_=True, type='FeatureExtractorBackbone', model='mobilenet_v2', out_indices=(3,),
        norm_cfg=dict(type='SyncBN'),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mobilenet_v2-b0353104.pth')),
    head=dict(in_channels=1280))  # the deconvolutions read the stride-32 level
