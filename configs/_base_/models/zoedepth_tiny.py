# Tiny ZoeDepth for tests and CPU demos: same structure as zoedepth_swin2b.py
# (SwinV2 + DPT neck + metric bins head), a few thousand times cheaper.
# 64x64 network input; random weights only.
# Metric head: ./zoedepth_metric_head.py with smaller widths.
_base_ = ['./zoedepth_metric_head.py']
data_preprocessor = dict(
    type='ZoeDepthDataPreProcessor',
    size=(64, 64),
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    bgr_to_rgb=False,
    depth_pad_val=0,
    seg_pad_val=255)
model = dict(
    type='ZoeDepthEstimator',
    data_preprocessor=data_preprocessor,
    core_checkpoint=None,
    backbone=dict(
        type='ZoeSwinV2',
        arch='swinv2_tiny_window8_256',
        img_size=64,
        embed_dim=16,
        depths=(1, 1, 2, 1),
        num_heads=(1, 2, 2, 4),
        window_size=4,
        pretrained_window_sizes=(0, 0, 0, 0),
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        # the speed switches of the full model (mmzoe/models/
        # speed_switches.py): tests and demos run the paths users run
        attn_impl='sdpa',
        # eval without gradients: oneDNN fused linear + bias / GELU, one
        # gather for shift + window partition (speed_switches.fused_eval)
        fused_eval=True,
        # strided-copy position bias (speed_switches.toeplitz_bias)
        toeplitz_bias=True,
        with_cp=False),
    neck=dict(
        type='ZoeDPTNeck',
        in_channels=[16, 32, 64, 128],
        channels=32,
        channels_last=True,
        # eval without gradients: fused conv + ReLU / + residual, 1x1 convs
        # before the resize (speed_switches.fused_eval)
        fused_eval=True,
        fast_conv_grad=True,
        # fp32 CPU 3x3 convs via NNPACK Winograd (speed_switches)
        winograd_conv=True,
        # fusion blocks: 1x1 out_conv before the resize in training too
        # (same function, 4x fewer pixels; speed_switches)
        conv_before_resize=True,
        with_cp=False,
        relative_head=dict(
            type='ZoeRelativeDepthHead', feat_channels=8, non_negative=True)),
    decode_head=dict(
        in_channels=32,
        out_conv_channels=8,
        n_bins=16,
        bin_embedding_dim=16,
        n_attractors=[4, 2, 2, 1],
        seed_mlp_dim=32,
        projector_mlp_dim=16,
        attractor_mlp_dim=16,
        clb_project_condition=True,
        fused_expectation=True,
        # eval without gradients: the bins MLPs' 1x1 convs with bias + ReLU
        # in oneDNN (speed_switches.fused_eval)
        fused_eval=True,
        with_cp=False),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=False))
