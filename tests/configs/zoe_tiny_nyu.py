# Tiny ZoeDepth trained on a tiny generated NYU-layout .mat (tooling tests
# and the CPU demo). The .mat path is data_root/tiny_nyu.mat; write it with
# tests/configs/make_tiny_nyu.py and pass
# --cfg-options train_dataloader.dataset.data_root=DIR \
#               val_dataloader.dataset.data_root=DIR ...
_base_ = ['../../configs/_base_/models/zoedepth_tiny.py']
default_scope = 'mmzoe'
custom_imports = dict(imports=['mmzoe'], allow_failed_imports=False)

data_root = 'data/tiny_nyu'
train_pipeline = [dict(type='PackSegInputs')]
# ZoeLoadImage passes the dataset's image through; it is the step that
# mmseg.apis.inference_model swaps for LoadImageFromNDArray.
test_pipeline = [dict(type='ZoeLoadImage'), dict(type='PackSegInputs')]
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='NYUv2LabeledDataset', data_root=data_root,
                 ann_file='tiny_nyu.mat', split='all', with_labels=False,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='NYUv2LabeledDataset', data_root=data_root,
                 ann_file='tiny_nyu.mat', split='all', with_labels=False,
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ZoeDepthMetric', crop=None, min_depth=1e-3,
                     max_depth=10.0)
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
    clip_grad=dict(max_norm=0.1, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2),
    dict(type='PolyLR', power=1.0, eta_min=1e-5, by_epoch=False, begin=2,
         end=4),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [dict(type='ZoeDivergenceHook', max_skipped_steps=3)]
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
env_cfg = dict(cudnn_benchmark=False,
               mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_level = 'INFO'
load_from = None
resume = False
