# CPU demo: a small ZoeDepth (slim ResNet-18 core + DPT neck + metric bins
# head) with the training-only U-Net segmentation branch, trained from
# scratch on the procedural synthetic NYU set (tools/data/make_synthetic_nyu.py)
# at a 128x160 network input. Run everything with `python tools/demo.py`,
# which renders data_root/synthetic_nyu.mat (3000 frames at 120x160) and the
# train/val index files (val = held-out rooms) and overrides data_root.
# 3.13 M parameters (3.19 M with the segmentation branch).
_base_ = [
    '../_base_/models/zoedepth_tiny.py', '../_base_/models/aux_unet_seg.py'
]
default_scope = 'mmzoe'
custom_imports = dict(imports=['mmzoe'], allow_failed_imports=False)

net_size = (128, 160)
model = dict(
    data_preprocessor=dict(size=net_size),
    # "similarly small core": a slim ResNet-18 (widths 32..256, random init)
    # trains much faster from scratch on CPU than a SwinV2 of the same cost
    backbone=dict(
        _delete_=True,
        type='ZoeTimmBackbone',
        model_name='resnet18',
        channels=(32, 64, 128, 256),
        stem_width=32,
        out_indices=(1, 2, 3, 4)),
    neck=dict(
        in_channels=[32, 64, 128, 256],
        channels=32,
        # positive start for the relative head's last bias: with the default
        # init its final ReLU can be dead from the start (black relative
        # map, no rel_depth conditioning of the metric head)
        relative_head=dict(feat_channels=8, final_bias=1.0)),
    decode_head=dict(
        in_channels=32,
        out_conv_channels=8,
        n_bins=16,
        bin_embedding_dim=16,
        seed_mlp_dim=64,
        projector_mlp_dim=32,
        attractor_mlp_dim=32),
    auxiliary_head=dict(
        _base_.aux_unet_seg_head,
        in_channels=[32, 32, 32, 32, 32],
        block_channels=[32, 16, 16, 8, 8]),
    test_cfg=dict(mode='whole', flip=False))

data_root = 'work_dirs/demo/data'
ann_file = 'synthetic_nyu.mat'
# the demo renders 120x160 frames (--scale 0.25); the preprocessor resizes
# them to the 128x160 network input; losses and evaluation compare at the GT
# size
train_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ZoeColorAug', prob=0.5),
    dict(type='PackSegInputs')
]
# ZoeLoadImage passes the dataset's image through; it is the step that
# mmseg.apis.inference_model swaps for LoadImageFromNDArray.
test_pipeline = [dict(type='ZoeLoadImage'), dict(type='PackSegInputs')]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='NYUv2LabeledDataset',
        data_root=data_root,
        ann_file=ann_file,
        split='file',
        index_file='train_indices.txt',
        depth_key='depths',
        with_labels=True,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'],  # the held-out rooms of the same file
        index_file='val_indices.txt',
        with_labels=False,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# synthetic frames have no white undistortion border: no Eigen crop
val_evaluator = dict(
    type='ZoeDepthMetric', crop=None, min_depth=1e-3, max_depth=10.0)
test_evaluator = val_evaluator

max_iters = 1200
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01),
    # the full recipe clips at 0.1; from scratch that slows training down
    clip_grad=dict(max_norm=1.0, norm_type=2))
# warm-up then poly decay (MMEngine's OneCycleLR pickles a bound method into
# checkpoints, which torch.load(weights_only=True) refuses)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=100),
    dict(type='PolyLR', power=1.0, eta_min=1e-5, by_epoch=False, begin=100,
         end=max_iters)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters,
        max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'),
    # keep freed memory: no page faults per step (mmzoe.utils.cpu_runtime);
    # numerics unchanged (denormals are not flushed here)
    cpu_runtime=dict(malloc='reuse', flush_denormal=False))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
