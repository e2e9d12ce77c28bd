# Table 5 (SSDLite, PASCAL VOC), NASNet-A Mobile (Cadene's pretrainedmodels nasnetamobile; pip install "relnas_zoo[comparison]") row.
# Everything but the backbone comes from ../ssdlite_voc.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/ssdlite_nasnet_voc.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: Cadene's ImageNet weights.
# Cadene's NASNet weights expect inputs scaled to [-1, 1] (mean 0.5, std 0.5), so this row normalises
# them so; every other row uses the ImageNet mean/std its weights were trained with.
_base_ = ['../ssdlite_voc.py']

model = dict(
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),
    backbone=dict(
        _delete_=True, type='FeatureExtractorBackbone', model='nasnetamobile', out_indices=(2, 3),
        norm_cfg=dict(type='SyncBN'),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/nasnetamobile-7e03cead.pth')),
    neck=dict(in_channels=(528, 1056)),  # stride-16 and stride-32 levels
    bbox_head=dict(in_channels=(528, 1056, 512, 256, 256, 64)))
