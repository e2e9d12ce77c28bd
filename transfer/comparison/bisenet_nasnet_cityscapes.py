# Table 6 (BiSeNet, Cityscapes), NASNet-A Mobile (Cadene's pretrainedmodels nasnetamobile; pip install "relnas_zoo[comparison]") row.
# Everything but the backbone comes from ../bisenet_cityscapes.py (the RelativeNAS row); the levels are the
# ones the authors' transfer code read for this backbone.
#   tools/dist_train.sh transfer/comparison/bisenet_nasnet_cityscapes.py 4 --cfg-options model.backbone.backbone_cfg.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: Cadene's ImageNet weights.
# The input is normalised as in every row of this task: the authors' transfer code feeds all six backbones
# the same input, NASNet included (Cadene's ImageNet weights were trained on [-1, 1] inputs), and the released
# NASNet model was trained and tested so.
_base_ = ['../bisenet_cityscapes.py']

model = dict(
    backbone=dict(
        context_channels=(128, 528, 1056),  # 128 and the stride-16/32 widths
        backbone_cfg=dict(
            _delete_=True, type='FeatureExtractorBackbone', model='nasnetamobile', out_indices=(0, 1, 2, 3),
            norm_cfg=dict(type='SyncBN'),
            init_cfg=dict(type='Pretrained', checkpoint='checkpoints/nasnetamobile-7e03cead.pth'))))
