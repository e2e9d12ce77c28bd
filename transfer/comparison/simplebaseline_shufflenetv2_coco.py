# Table 7 (SimpleBaseline, COCO keypoints), ShuffleNet-V2 1x (torchvision shufflenet_v2_x1_0) row.
# Everything but the backbone comes from ../simplebaseline_coco.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/simplebaseline_shufflenetv2_coco.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: torchvision's ImageNet weights.
_base_ = ['../simplebaseline_coco.py']

model = dict(
    backbone=dict(
        _delete_=True, type='FeatureExtractorBackbone', model='shufflenet_v2_x1_0', out_indices=(3,),
        norm_cfg=dict(type='SyncBN'),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/shufflenetv2_x1-5666bf0f80.pth')),
    head=dict(in_channels=1024))  # the deconvolutions read the stride-32 level
