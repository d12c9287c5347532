# ZoeDepth (ZoeD-M12-N layout, NYU defaults) on the MiDaS v3.1 DPT BEiT-L-384
# core: the core of upstream's released ZoeD_M12_N / _K / _NK checkpoints.
# Model only: compose with dataset / schedule / runtime bases.
#
# Input handling as upstream's MidasCore (img_size [384, 512]): the image is
# resized bilinearly (align_corners=True) to about 384x512, each side a
# multiple of 32. keep_ratio=True is upstream's `infer` config mode (the one
# torch.hub's ZoeD_N uses: aspect ratio kept, both sides scaled by the factor
# closer to 1); the evaluation / training configs set keep_ratio=False
# (upstream's `eval` / `train` modes: squashed to 384x512). Both agree on
# 480x640 and 384x512 inputs.
# Weights: tools/model_converters/zoedepth_to_mmzoe.py ZoeD_M12_N.pt OUT.pth
# Metric head: ./zoedepth_metric_head.py (the ZoeD-M12-N head).
_base_ = ['./zoedepth_metric_head.py']
data_preprocessor = dict(
    type='ZoeDepthDataPreProcessor',
    size=(384, 512),
    keep_ratio=True,
    resize_method='minimal',  # upstream ZoeDepth's rule (factor closer to 1)
    size_divisor=32,
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
        type='ZoeBEiT',
        arch='beit_large_patch16_384',
        out_indices=(5, 11, 17, 23),  # MiDaS' hooks for BEiT-L
        drop_path_rate=0.0,  # timm's default, what MiDaS builds
        # 'sdpa': fused attention with the (resized) relative position bias
        # as mask; 'timm': explicit softmax in MiDaS' order
        attn_impl='sdpa',
        # bias copied from a strided view of each table, no index gather
        # (speed switch toeplitz_bias, mmzoe/models/speed_switches.py)
        toeplitz_bias=True,
        # eval without gradients: layer scale + residual in one operation,
        # keys reordered for the strided bias (speed_switches.fused_eval)
        fused_eval=True,
        with_cp=False),
    neck=dict(
        type='ZoeDPTNeck',
        # DPT reassemble of MiDaS' ViT cores: readout token projected into
        # every patch token, 1x1 conv to 256/512/1024/1024, resampling
        # x4 / x2 / x1 / x0.5 (strides 4, 8, 16, 32)
        reassemble=dict(
            type='ZoeViTReassemble',
            in_channels=1024,
            out_channels=[256, 512, 1024, 1024],
            readout='project',
            scale_factors=[4, 2, 1, 0.5],
            # W_p t + (W_r r + b) instead of W [t; r] + b (speed switch
            # split_readout): half the readout multiply-adds
            split_readout=True),
        in_channels=[256, 512, 1024, 1024],
        channels=256,
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
            type='ZoeRelativeDepthHead', feat_channels=32,
            non_negative=True)),
    decode_head=dict(
        clb_project_condition=True,
        fused_expectation=True,
        # eval without gradients: the bins MLPs' 1x1 convs with bias + ReLU
        # in oneDNN (speed_switches.fused_eval)
        fused_eval=True,
        with_cp=False),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=False))
