# ZoeDepth (ZoeD-M12-N layout, NYU defaults) on the MiDaS v3.1 DPT SwinV2-B-384
# core. Model only: compose with dataset / schedule / runtime bases.
# Start from MiDaS weights with
#     python tools/model_converters/midas_to_mmzoe.py dpt_swin2_base_384.pt \
#         checkpoints/midas_dpt_swin2_base_384-mmzoe.pth
# and model.core_checkpoint set to that file (the training configs under
# configs/zoedepth/ and configs/zoe_segdistill_nyu.py do; here it is None).
data_preprocessor = dict(
    type='ZoeDepthDataPreProcessor',
    size=(384, 384),  # the SwinV2 core is fixed-size: images are squashed
    mean=(0.5, 0.5, 0.5),  # on [0, 1] RGB, after the resize
    std=(0.5, 0.5, 0.5),
    bgr_to_rgb=False,  # mmzoe loaders give RGB
    depth_pad_val=0,
    seg_pad_val=255)
model = dict(
    type='ZoeDepthEstimator',
    data_preprocessor=data_preprocessor,
    core_checkpoint=None,
    backbone=dict(
        type='ZoeSwinV2',
        arch='swinv2_base_window12to24_192to384',
        img_size=384,
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        # Speed switches: names, keys and tolerances in
        # mmzoe/models/speed_switches.py (the code defaults are upstream's
        # order; these are the shipped values). 'sdpa': fused attention with
        # the position bias cached in eval mode ('timm' = plain eager).
        # with_cp (one switch: backbone, neck and head together):
        # activation checkpointing for training memory.
        attn_impl='sdpa',
        with_cp=False),
    neck=dict(
        type='ZoeDPTNeck',
        in_channels=[128, 256, 512, 1024],
        channels=256,
        # channels-last convolutions: faster on CPU and GPU (training and
        # inference), within 1e-6 of NCHW (docs/benchmarks.md)
        channels_last=True,
        # 3x3 convolutions as ZoeConv2d: channels-last forward, faster CPU
        # backward in training (same parameters; gradients up to rounding)
        fast_conv_grad=True,
        with_cp=False,
        relative_head=dict(
            type='ZoeRelativeDepthHead', feat_channels=32,
            non_negative=True)),
    decode_head=dict(
        type='ZoeDepthHead',
        in_channels=256,
        out_conv_channels=32,
        n_bins=64,
        bin_embedding_dim=128,
        n_attractors=[16, 8, 4, 1],
        attractor_alpha=1000,
        attractor_gamma=2,
        attractor_kind='mean',
        attractor_type='inv',
        bin_centers_type='softplus',
        min_depth=1e-3,
        max_depth=10.0,
        min_temp=0.0212,
        max_temp=50.0,
        align_corners=True,
        # project the bin embedding before upsampling it: same function up to
        # rounding, 2.3 GFLOP less (docs/benchmarks.md)
        clb_project_condition=True,
        # depth = sum(probs * centres) in strips, probabilities recomputed in
        # the backward pass instead of kept: same function up to rounding
        fused_expectation=True,
        with_cp=False,
        loss_decode=dict(
            type='ZoeSILogLoss', beta=0.15, min_depth=1e-3, max_depth=10.0,
            loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=False))
