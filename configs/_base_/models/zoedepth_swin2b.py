# ZoeDepth (ZoeD-M12-N layout, NYU defaults) on the MiDaS v3.1 DPT SwinV2-B-384
# core. Model only: compose with dataset / schedule / runtime bases.
# Start from MiDaS weights with
#     python tools/model_converters/midas_to_mmzoe.py dpt_swin2_base_384.pt \
#         checkpoints/midas_dpt_swin2_base_384-mmzoe.pth
# and model.core_checkpoint set to that file (the training configs under
# configs/zoedepth/ and configs/zoe_segdistill_nyu.py do; here it is None).
# Metric head: ./zoedepth_metric_head.py (the ZoeD-M12-N head).
_base_ = ['./zoedepth_metric_head.py']
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
        # eval without gradients: oneDNN fused linear + bias / GELU, one
        # gather for shift + window partition (speed_switches.fused_eval)
        fused_eval=True,
        # position bias copied from strided views of each block's table, its
        # training gradient as offset sums (speed_switches.toeplitz_bias)
        toeplitz_bias=True,
        with_cp=False),
    neck=dict(
        type='ZoeDPTNeck',
        in_channels=[128, 256, 512, 1024],
        channels=256,
        # channels-last convolutions: faster on CPU and GPU (training and
        # inference), within 1e-6 of NCHW (docs/benchmarks.md)
        channels_last=True,
        # eval without gradients: fused conv + ReLU / + residual, 1x1 convs
        # before the resize (speed_switches.fused_eval)
        fused_eval=True,
        # 3x3 convolutions as ZoeConv2d: channels-last forward, faster CPU
        # backward in training (same parameters; gradients up to rounding)
        fast_conv_grad=True,
        # fp32 CPU 3x3 convs via NNPACK Winograd (speed_switches)
        winograd_conv=True,
        # fusion blocks: 1x1 out_conv before the resize in training too
        # (same function, 4x fewer pixels; speed_switches)
        conv_before_resize=True,
        with_cp=False,
        relative_head=dict(
            type='ZoeRelativeDepthHead', feat_channels=32,
            non_negative=True)),
    decode_head=dict(
        # project the bin embedding before upsampling it: same function up to
        # rounding, 2.3 GFLOP less (docs/benchmarks.md)
        clb_project_condition=True,
        # depth = sum(probs * centres) in strips, probabilities recomputed in
        # the backward pass instead of kept: same function up to rounding
        fused_expectation=True,
        # eval without gradients: the bins MLPs' 1x1 convs with bias + ReLU
        # in oneDNN (speed_switches.fused_eval)
        fused_eval=True,
        with_cp=False),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=False))
