# Table 7 (SimpleBaseline, COCO keypoints), NASNet-A Mobile (Cadene's pretrainedmodels nasnetamobile; pip install "relnas_zoo[comparison]") row.
# Everything but the backbone comes from ../simplebaseline_coco.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/simplebaseline_nasnet_coco.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: Cadene's ImageNet weights.
# The input is normalised as in every row of this task: the authors' transfer code feeds all six backbones
# the same input, NASNet included (Cadene's ImageNet weights were trained on [-1, 1] inputs), and the released
# NASNet model was trained and tested so.
_base_ = ['../simplebaseline_coco.py']

model = dict(
    backbone=dict(
        _delete_=True, type='FeatureExtractorBackbone', model='nasnetamobile', out_indices=(3,),
        norm_cfg=dict(type='SyncBN'),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/nasnetamobile-7e03cead.pth')),
    head=dict(in_channels=1056))  # the deconvolutions read the stride-32 level
