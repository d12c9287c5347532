# ZoeDepth (metric-bins head, ZoeD-M12-N layout) on a Depth Anything core:
# DINOv2 ViT-L/14 encoder + Depth Anything's DPT head (1x1 projections,
# resize layers 4/2/1/0.5, DPT decoder, relative head resizing to the input
# size). Model only: compose with dataset / schedule / runtime bases.
# Encoder blocks: Depth Anything V2's (4, 11, 17, 23); V1 checkpoints read
# the last four blocks: backbone=dict(out_indices=(20, 21, 22, 23)).
# Start from a converted relative checkpoint with
#     python tools/model_converters/depth_anything_to_mmzoe.py \
#         depth_anything_v2_vitl.pth checkpoints/da2_vitl_core-mmzoe.pth
#     --cfg-options model.core_checkpoint=checkpoints/da2_vitl_core-mmzoe.pth
# Metric head: ./zoedepth_metric_head.py (the ZoeD-M12-N head).
_base_ = ['./zoedepth_metric_head.py']
data_preprocessor = dict(
    type='ZoeDepthDataPreProcessor',
    # Depth Anything's ZoeDepth training/evaluation input: images squashed
    # to 392x518 (multiples of the 14-pixel patch), bilinear,
    # align_corners=True, ImageNet mean/std after the resize
    size=(392, 518),
    size_divisor=14,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    bgr_to_rgb=False,  # mmzoe loaders give RGB
    depth_pad_val=0,
    seg_pad_val=255)
da_features = 256  # DPT width: 64 (ViT-S), 128 (ViT-B), 256 (ViT-L)
model = dict(
    type='ZoeDepthEstimator',
    data_preprocessor=data_preprocessor,
    core_checkpoint=None,
    backbone=dict(
        type='ZoeDINOv2', arch='vitl', out_indices=(4, 11, 17, 23),
        img_size=518, drop_path_rate=0.0, with_cp=False),
    neck=dict(
        type='ZoeDPTNeck',
        in_channels=[256, 512, 1024, 1024],
        channels=da_features,
        reassemble=dict(
            type='ZoeViTReassemble',
            in_channels=1024,
            out_channels=(256, 512, 1024, 1024),
            readout='ignore',  # released models: use_clstoken=False
            scale_factors=(4, 2, 1, 0.5)),
        # eval without gradients: fused conv + ReLU / + residual, 1x1 convs
        # before the resize (speed_switches.fused_eval)
        fused_eval=True,
        # fp32 CPU 3x3 convs via NNPACK Winograd (speed_switches)
        winograd_conv=True,
        # fusion blocks: 1x1 out_conv before the resize in training too
        # (same function, 4x fewer pixels; speed_switches)
        conv_before_resize=True,
        relative_head=dict(
            type='ZoeRelativeDepthHead', feat_channels=32,
            non_negative=True,
            # finest fused map = 8x the patch grid -> input size = 14x
            scale_factor=1.75)),
    decode_head=dict(
        in_channels=da_features,
        clb_project_condition=True,
        fused_expectation=True,
        # eval without gradients: the bins MLPs' 1x1 convs with bias + ReLU
        # in oneDNN (speed_switches.fused_eval)
        fused_eval=True,
        with_cp=False),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=False))
