# SSDLite with a RelativeNAS backbone on PASCAL VOC (paper §4.5.2, Table 5):
# VOC07+12 trainval -> VOC07 test, 320x320, SGD batch 32 in total (8 per GPU x 4 GPUs), momentum 0.9,
# weight decay 5e-4, lr 0.01 cosine to 0 over 200 epochs. Backbone levels at strides 16 and 32, then four
# stride-2 inverted-residual extra levels (512, 256, 256, 64; the authors' expand ratios 0.2, 0.25, 0.5,
# 0.25), depthwise-separable heads, the authors' anchors (sizes 60..285, strides 16, 32, 64, 100, 150, 300).
# Every non-difficult box is trained, small ones included (the paper highlights small-object classes).
#   tools/dist_train.sh transfer/ssdlite_voc.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# WEIGHTS: ImageNet-trained RelativeNAS, our format or the authors' (default path below).
# The network, input and test path are those of the authors' SSDLite (EMI-Group/TransferLearning-Tasks,
# SSDLite/vision/ssd/), which the released models were trained and tested with: plain BN (eps 1e-5) in the extra
# levels and heads, a biased depthwise conv in each head and a plain 1x1 conv on the last level (ops.py:6-14,
# ssd_mobile.py:23-39), priors clamped to the image (box_utils.py:58), RGB input (x - 127) / 128
# (config/ssdlite_config.py), per-class top-200 hard NMS at 0.45 over scores > 0.01 without clipping or a cap
# (predictor.py, box_utils.py:198-223), and their VOC07 AP (eval_metrics.py: IoU without +1, match above 0.5).
# A released file: relnas-zoo convert pairnas-Epoch-199.pth ssdlite.pth --config ssdlite_voc
custom_imports = dict(imports=['relnas_zoo.mm'], allow_failed_imports=False)  # backbone + SSDLiteHead fix
default_scope = 'mmdet'

data_root = 'data/VOCdevkit/'
input_size = 320
data_preprocessor = dict(type='DetDataPreprocessor', mean=[127, 127, 127], std=[128, 128, 128], bgr_to_rgb=True,
                         pad_size_divisor=1)
norm_cfg = dict(type='SyncBN', eps=1e-5, momentum=0.1)  # PyTorch's BN defaults; synchronised over several GPUs
model = dict(
    type='SingleStageDetector',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='RelativeNASBackbone', genotype='RelativeNAS', C=46, layers=14, out_indices=(2, 3),
        frozen_stages=-1, norm_eval=False, norm_cfg=dict(type='SyncBN'),  # 8 images per GPU: sync statistics
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/relativenas_imagenet.pth')),
    neck=dict(type='SSDLiteExtraLevels', in_channels=(368, 736), extra_channels=(512, 256, 256, 64),
              expand_ratios=(0.2, 0.25, 0.5, 0.25), norm_cfg=norm_cfg, act_cfg=dict(type='ReLU6')),
    bbox_head=dict(
        type='SSDLiteHead',
        in_channels=(368, 736, 512, 256, 256, 64),
        num_classes=20,
        use_depthwise=True,
        depthwise_bias=True,
        plain_levels=(5,),
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU6'),
        init_cfg=dict(type='Normal', layer='Conv2d', std=0.001),
        anchor_generator=dict(
            type='ClampedSSDAnchorGenerator', clamp_size=input_size, scale_major=False,
            strides=[16, 32, 64, 100, 150, 300],
            ratios=[[2, 3], [2, 3], [2, 3], [2, 3], [2, 3], [2, 3]],
            min_sizes=[60, 105, 150, 195, 240, 285], max_sizes=[105, 150, 195, 240, 285, 330]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0], target_stds=[0.1, 0.1, 0.2, 0.2],
                       clip_border=False)),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0., ignore_iof_thr=-1,
                      gt_max_assign_all=False),
        sampler=dict(type='PseudoSampler'), smoothl1_beta=1., allowed_border=-1, pos_weight=-1, neg_pos_ratio=3,
        debug=False),
    # the authors' predictor: per class the 200 best scores above 0.01, hard NMS at IoU 0.45 computed on
    # image-relative boxes with 1e-5 added to the union (box_utils.iou_of), every kept box, no clamp of the size
    # deltas (wh_ratio_clip)
    test_cfg=dict(per_class_candidates=200, score_thr=0.01, nms=dict(type='nms', iou_threshold=0.45), iou_eps=1e-5,
                  max_per_img=-1, wh_ratio_clip=1e-12))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Expand', mean=data_preprocessor['mean'], to_rgb=data_preprocessor['bgr_to_rgb'], ratio_range=(1, 4)),
    dict(type='MinIoURandomCrop', min_ious=(0.1, 0.3, 0.5, 0.7, 0.9), min_crop_size=0.3),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion', brightness_delta=32, contrast_range=(0.5, 1.5), saturation_range=(0.5, 1.5),
         hue_delta=18),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]


def _voc(year, split, pipeline, test_mode=False):
    ds = dict(type='VOCDataset', data_root=data_root, ann_file=f'VOC{year}/ImageSets/Main/{split}.txt',
              data_prefix=dict(sub_data_root=f'VOC{year}/'), test_mode=test_mode, pipeline=pipeline)
    if not test_mode:  # no bbox_min_size: it would mark every box under 32 px as ignored (small objects)
        ds['filter_cfg'] = dict(filter_empty_gt=True, min_size=32)
    return ds


train_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ConcatDataset', ignore_keys=['dataset_type'],
                 datasets=[_voc(2007, 'trainval', train_pipeline), _voc(2012, 'trainval', train_pipeline)]))
val_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=_voc(2007, 'test', test_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='PlainIoUVOCMetric')  # VOC2007 11-point AP as the authors' evaluation computes it
test_evaluator = val_evaluator
del _voc  # keep the config dump free of functions

max_epochs = 200
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', begin=0, T_max=max_epochs, end=max_epochs, by_epoch=True, eta_min=0),
]
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
auto_scale_lr = dict(enable=False, base_batch_size=32)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3, save_best='pascal_voc/mAP', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))
env_cfg = dict(cudnn_benchmark=True, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
