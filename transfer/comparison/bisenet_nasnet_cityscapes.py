# Table 6 (BiSeNet, Cityscapes), NASNet-A Mobile (Cadene's pretrainedmodels nasnetamobile; pip install "relnas_zoo[comparison]") row.
# Everything but the backbone comes from ../bisenet_cityscapes.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/bisenet_nasnet_cityscapes.py 4 --cfg-options model.backbone.backbone_cfg.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: Cadene's ImageNet weights.
# Cadene's NASNet weights expect inputs scaled to [-1, 1] (mean 0.5, std 0.5), so this row normalises
# them so; every other row uses the ImageNet mean/std its weights were trained with.
_base_ = ['../bisenet_cityscapes.py']

model = dict(
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),
    backbone=dict(
        context_channels=(128, 528, 1056),  # 128 and the stride-16/32 widths
        backbone_cfg=dict(
            _delete_=True, type='FeatureExtractorBackbone', model='nasnetamobile', out_indices=(0, 1, 2, 3),
            norm_cfg=dict(type='SyncBN'),
            init_cfg=dict(type='Pretrained', checkpoint='checkpoints/nasnetamobile-7e03cead.pth'))))
