# SimpleBaseline with a RelativeNAS backbone on COCO keypoints (paper §4.5.2, Table 7): train2017 -> val2017,
# 256x192 person crops, Adam lr 1e-3 dropped x0.1 at epochs 90 and 120 of 140, batch 128 in total (32 per GPU
# x 4 GPUs), flip test, COCO keypoint AP. Augmentation as the paper and the authors' code: scale +-30%,
# rotation (normal, sigma 40 degrees, at most 80, with probability 0.6), flip; no half-body and no box shift
# (those are mmpose's HRNet recipe). Like the authors' code, validation uses ground-truth person boxes unless
# val_dataloader.dataset.bbox_file points at detections, so AP is not comparable with mmpose's model-zoo
# figures (detected boxes).
#   tools/dist_train.sh transfer/simplebaseline_coco.py 4 --cfg-options model.backbone.init_cfg.checkpoint=WEIGHTS
# Head: three 256-channel 4x4 deconvolutions on the stride-32 level (736 channels), MSRA heatmaps (48x64).
# The network, its input and its test path are those the released models were trained and tested with
# (EMI-Group/TransferLearning-Tasks, Simplebaseline/): images as cv2 reads them (BGR) normalised with the RGB
# ImageNet constants (lib/dataset/JointsDataset.py:72-74), ground-truth boxes read as inclusive pixel indices
# (lib/dataset/coco.py:139-142), flip test with the one-pixel heatmap shift (lib/core/function.py:97-110), and
# decoding with the quarter-pixel shift only inside the heatmap on both axes (lib/core/inference.py).
# A released file: relnas-zoo convert model_best.pth.tar simplebaseline.pth --config simplebaseline_coco
custom_imports = dict(imports=['relnas_zoo.mm'], allow_failed_imports=False)
default_scope = 'mmpose'

data_root = 'data/coco/'
codec = dict(type='SimpleBaselineHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
model = dict(
    type='TopdownPoseEstimator',
    # bgr_to_rgb=False: the BGR image with the RGB constants, as SimpleBaseline's code trains and tests
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=False),
    backbone=dict(
        type='RelativeNASBackbone', genotype='RelativeNAS', C=46, layers=14, out_indices=(3,),
        norm_cfg=dict(type='SyncBN'),  # 32 images per GPU: synchronised statistics (sync_bn below: the head too)
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/relativenas_imagenet.pth')),
    head=dict(
        type='HeatmapHead', in_channels=736, out_channels=17,
        deconv_out_channels=(256, 256, 256), deconv_kernel_sizes=(4, 4, 4),
        loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    # the authors' scale clip(N(1, 0.3)) and rotation clip(N(0, 40), +-80) deg with probability 0.6; no shift
    dict(type='ClippedNormalBBoxTransform', scale_sigma=0.3, rotate_sigma=40., rotate_max=80., rotate_prob=0.6),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='SimpleBaselineCocoDataset', data_root=data_root, data_mode='topdown',
                 ann_file='annotations/person_keypoints_train2017.json', data_prefix=dict(img='train2017/'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type='SimpleBaselineCocoDataset', data_root=data_root, data_mode='topdown',
                 ann_file='annotations/person_keypoints_val2017.json', bbox_file=None,
                 data_prefix=dict(img='val2017/'), test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator

max_epochs = 140
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=10)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),  # warm-up
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[90, 120], gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=128)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=10, save_best='coco/AP', rule='greater', max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='PoseVisualizationHook', enable=False))
custom_hooks = [dict(type='SyncBuffersHook')]
sync_bn = 'torch'  # several GPUs: every BN layer, the head's included, synchronises its statistics
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='PoseLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True, num_digits=6)
log_level = 'INFO'
load_from = None
resume = False
backend_args = dict(backend='local')
