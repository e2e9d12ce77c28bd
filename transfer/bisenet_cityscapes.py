# BiSeNet (V1) with RelativeNAS as its context path on Cityscapes (paper §4.5.2, Table 6): fine train (2975)
# -> val, 80K iterations, batch 16 in total (4 per GPU x 4 GPUs), SGD lr 1e-2 with poly 0.9, random scale
# {0.75, 1, 1.25, 1.5, 1.75, 2.0}, flip, colour jitter, 1024x1024 crops, mIoU (single scale).
#   tools/dist_train.sh transfer/bisenet_cityscapes.py 4 --cfg-options \
#       model.backbone.backbone_cfg.init_cfg.checkpoint=WEIGHTS
# The context path reads the backbone's four levels (strides 4, 8, 16, 32: 46, 184, 368, 736 channels) and
# uses the last two: context_channels = (128, stride-16 width, stride-32 width). BiSeNetV1Paper is mmseg's
# BiSeNetV1 with the fusion module of the paper and the authors' code (128 spatial + 128 context channels in,
# attention bottleneck), which mmseg's own wiring cannot express (relnas_zoo/mm/segmentation.py).
# Training as the authors': OHEM cross-entropy (threshold 0.7, at least 65,536 kept pixels per image) on the
# main and both auxiliary outputs, 1000-iteration linear warm-up from 1e-5, 10x learning rate on the fusion
# module and the heads, no weight decay on BN and biases. Testing as the paper: 1024x1024 sliding windows
# over the 2048x1024 frame (stride 854: three windows); multi-scale + flip (scales 0.5-1.75) with
# tools/test.py --tta.
# The network and test path are those of the authors' BiSeNet (EMI-Group/TransferLearning-Tasks, BiSeNet/), which
# the released models were trained and tested with: every conv module outside the backbone is an in-place
# activated BN (AbsAffineBN: scale |w| + eps, synchronised over the GPUs as InPlaceABNSync) with LeakyReLU(0.01)
# (BiSeNet.py, modules/bn.py), output convs without bias or dropout, bilinear upsampling with align_corners=True
# (BiSeNet.py:244), and windows combined as exp(softmax) (valid.py:52).
# A released file: relnas-zoo convert model_iterfinal.pth bisenet.pth --config bisenet_cityscapes
custom_imports = dict(imports=['relnas_zoo.mm'], allow_failed_imports=False)
default_scope = 'mmseg'

data_root = 'data/cityscapes/'
crop_size = (1024, 1024)
norm_cfg = dict(type='SyncBN', requires_grad=True)  # the backbone's; plain BN on one process or CPU DDP
abn_cfg = dict(type='AbsAffineBN', sync=True)  # the authors' InPlaceABNSync: synchronised on several GPUs
act_cfg = dict(type='LeakyReLU', negative_slope=0.01)
ohem = dict(type='OHEMPixelSampler', thresh=0.7, min_kept=65536)
data_preprocessor = dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                         bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=crop_size)
model = dict(
    type='WindowProbEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='BiSeNetV1Paper',
        in_channels=3,
        context_channels=(128, 368, 736),
        spatial_channels=(64, 64, 64, 128),
        out_indices=(0, 1, 2),
        out_channels=256,
        backbone_cfg=dict(
            type='RelativeNASBackbone', genotype='RelativeNAS', C=46, layers=14, out_indices=(0, 1, 2, 3),
            norm_eval=False, norm_cfg=norm_cfg,  # synchronised BN in the backbone too (4 images per GPU)
            init_cfg=dict(type='Pretrained', checkpoint='checkpoints/relativenas_imagenet.pth')),
        norm_cfg=abn_cfg,
        act_cfg=act_cfg,
        align_corners=True,
        init_cfg=None),
    decode_head=dict(
        type='BiSeNetOutputHead', in_channels=256, in_index=0, channels=256, num_convs=1, concat_input=False,
        dropout_ratio=0., num_classes=19, norm_cfg=abn_cfg, act_cfg=act_cfg, align_corners=True, sampler=ohem,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=[
        dict(type='BiSeNetOutputHead', in_channels=128, channels=64, num_convs=1, num_classes=19, in_index=1,
             dropout_ratio=0., norm_cfg=abn_cfg, act_cfg=act_cfg, concat_input=False, align_corners=True,
             sampler=ohem,
             loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        dict(type='BiSeNetOutputHead', in_channels=128, channels=64, num_convs=1, num_classes=19, in_index=2,
             dropout_ratio=0., norm_cfg=abn_cfg, act_cfg=act_cfg, concat_input=False, align_corners=True,
             sampler=ohem,
             loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    ],
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(854, 854)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomChoiceResize', keep_ratio=True,  # the paper's scales of the 2048x1024 frames
         scales=[(1536, 768), (2048, 1024), (2560, 1280), (3072, 1536), (3584, 1792), (4096, 2048)]),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='CityscapesDataset', data_root=data_root,
                 data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CityscapesDataset', data_root=data_root,
                 data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'), pipeline=test_pipeline))
test_dataloader = val_dataloader
# multi-scale + flip testing (the paper's second protocol): tools/test.py CONFIG CKPT --tta
tta_model = dict(type='SegTTAModel')
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)],
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]])]
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

max_iters = 80000
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4), clip_grad=None,
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'backbone.ffm': dict(lr_mult=10.0), 'decode_head': dict(lr_mult=10.0),
                                    'auxiliary_head': dict(lr_mult=10.0)}))
warmup_iters = 1000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),  # 1e-5 -> 1e-2
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=warmup_iters, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(cudnn_benchmark=True, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
