# Mixing, direction 2: mmzoe's ZoeSwinV2 encoder (timm 1.x SwinV2, stage
# outputs before patch merging, NCHW) in MMSegmentation's own EncoderDecoder
# with UPerHead: NYU-13 semantic segmentation (14 classes: 13 + unknown) on
# the NYU Depth V2 labeled .mat, as a plain mmseg config (default scope
# mmseg, mmseg's runtime and 20k schedule); mmzoe parts are qualified with
# `mmzoe.`. The SwinV2 core is fixed-size: images are squashed to 256x256
# for training; the test pipeline keeps the GT at full size and mmseg
# resizes the prediction to it. Random init (nothing is downloaded).
_base_ = [
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py'
]
default_scope = 'mmseg'
custom_imports = dict(imports=['mmzoe'], allow_failed_imports=False)

img_size = 256
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    bgr_to_rgb=False,  # mmzoe's datasets give RGB
    pad_val=0,
    seg_pad_val=255,
    size=(img_size, img_size))
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmzoe.ZoeSwinV2',
        arch='swinv2_tiny_window8_256',
        img_size=img_size,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3)),
    decode_head=dict(
        type='UPerHead',
        in_channels=[96, 192, 384, 768],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=14,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

dataset_type = 'mmzoe.NYUv2LabeledDataset'
data_root = 'data/nyu'
train_pipeline = [
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='mmzoe.ZoeLoadImage'),
    # the image only: the GT stays at full size
    dict(type='mmzoe.ZoeResize', scale=(img_size, img_size)),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='nyu_depth_v2_labeled.mat',
        split='official',
        subset='train',
        with_labels=True,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'],  # the official split's other side
        subset='test',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999),
                   weight_decay=0.01),
    clip_grad=None)
