# Upstream ZoeDepth's NYU schedule (spec §8.3): AdamW lr 1.61e-4, weight decay
# 0.01 on every group; per-part lrs (encoder lr/10, DPT decoder lr/1, heads lr);
# OneCycle per iteration with max_lr = each group's lr, pct_start 0.7,
# div_factor 1, final_div_factor 1e4, cosine, two phases, beta1 cycling
# 0.95 -> 0.85 -> 0.95; gradient clipping at max-norm 0.1; validation every
# quarter epoch; best checkpoint by the lowest abs_rel.
max_epochs = 5
base_lr = 1.61e-4
optim_wrapper = dict(
    type='OptimWrapper',
    # fused=True: torch's single-kernel AdamW (same update up to rounding;
    # ~1 s less per SwinV2-B step on CPU than the per-tensor loop, see
    # docs/benchmarks.md)
    optimizer=dict(
        type='AdamW', lr=base_lr, weight_decay=0.01, betas=(0.9, 0.999),
        fused=True),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    constructor='ZoeDepthOptimWrapperConstructor',
    paramwise_cfg=dict(
        encoder_lr_factor=10, pos_enc_lr_factor=10, decoder_lr_factor=1))
param_scheduler = [
    dict(
        type='ZoeOneCycleLR',
        eta_max=None,  # = each parameter group's lr
        pct_start=0.7,
        div_factor=1.0,
        final_div_factor=1e4,
        anneal_strategy='cos',
        three_phase=False,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
    dict(
        type='ZoeOneCycleMomentum',
        base_momentum=0.85,
        max_momentum=0.95,
        pct_start=0.7,
        anneal_strategy='cos',
        three_phase=False,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(
    type='ZoeEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=0.25)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # MMEngine's CheckpointHook with truthful mid-epoch names (iter_N.pth)
    # and safe replacement order (mmzoe.engine.hooks.ZoeCheckpointHook)
    checkpoint=dict(
        type='ZoeCheckpointHook',
        by_epoch=True,
        interval=1,
        max_keep_ckpts=2,
        save_best='abs_rel',
        rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # mmseg's visualization hook for depth: panels of the first 4 images of
    # each validation, drawn by the ZoeDepthVisualizer (fixed 0-10 m range)
    # with the relative depth of the same forward pass
    visualization=dict(
        type='ZoeDepthPanelHook', num_images=4, save_files=False))
