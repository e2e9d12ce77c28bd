# Table 5 (SSDLite, PASCAL VOC), NASNet-A Mobile (Cadene's pretrainedmodels nasnetamobile; pip install "relnas_zoo[comparison]") row.
# Everything but the backbone comes from ../ssdlite_voc.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/ssdlite_nasnet_voc.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: Cadene's ImageNet weights.
# The input is normalised as in every row of this task: the authors' transfer code feeds all six backbones
# the same input, NASNet included (Cadene's ImageNet weights were trained on [-1, 1] inputs), and the released
# NASNet model was trained and tested so.
_base_ = ['../ssdlite_voc.py']

model = dict(
    backbone=dict(
        _delete_=True, type='FeatureExtractorBackbone', model='nasnetamobile', out_indices=(2, 3),
        norm_cfg=dict(type='SyncBN'),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/nasnetamobile-7e03cead.pth')),
    neck=dict(in_channels=(528, 1056)),  # stride-16 and stride-32 levels
    bbox_head=dict(in_channels=(528, 1056, 512, 256, 256, 64)))
