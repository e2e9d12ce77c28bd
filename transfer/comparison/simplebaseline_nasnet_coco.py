# Table 7 (SimpleBaseline, COCO keypoints), NASNet-A Mobile (Cadene's pretrainedmodels nasnetamobile; pip install "relnas_zoo[comparison]") row.
# Everything but the backbone comes from ../simplebaseline_coco.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/simplebaseline_nasnet_coco.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: Cadene's ImageNet weights.
# Cadene's NASNet weights expect inputs scaled to [-1, 1] (mean 0.5, std 0.5), so this row normalises
# them so; every other row uses the ImageNet mean/std its weights were trained with.
_base_ = ['../simplebaseline_coco.py']

model = dict(
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),
    backbone=dict(
        _delete_=True, type='FeatureExtractorBackbone', model='nasnetamobile', out_indices=(3,),
        norm_cfg=dict(type='SyncBN'),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/nasnetamobile-7e03cead.pth')),
    head=dict(in_channels=1056))  # the deconvolutions read the stride-32 level
