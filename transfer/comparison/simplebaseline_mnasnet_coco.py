# Table 7 (SimpleBaseline, COCO keypoints), MnasNet 1.0 (torchvision mnasnet1_0) row.
# Everything but the backbone comes from ../simplebaseline_coco.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/simplebaseline_mnasnet_coco.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: torchvision's ImageNet weights.
_base_ = ['../simplebaseline_coco.py']

model = dict(
    backbone=dict(
        _delete_=True, type='FeatureExtractorBackbone', model='mnasnet1_0', out_indices=(3,),
        norm_cfg=dict(type='SyncBN'),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mnasnet1.0_top1_73.512-f206786ef8.pth')),
    head=dict(in_channels=1280))  # the deconvolutions read the stride-32 level
