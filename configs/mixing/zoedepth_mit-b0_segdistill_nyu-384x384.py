# Mixing, direction 1: MMSegmentation's MiT-B0 encoder (SegFormer's
# MixVisionTransformer) as the core of ZoeDepth, with mmzoe's DPT neck, metric
# bins head and training-only U-Net segmentation branch: the report's
# segmentation-distillation recipe (NYU labeled, 384x384, AdamW + one-cycle)
# with the encoder swapped. Unqualified mmseg names resolve through the mmzoe
# scope (its registries are children of mmseg's). The MiT stages have strides
# 4/8/16/32 like SwinV2's, so only the neck's input widths change. Random
# init (nothing is downloaded); for ImageNet MiT weights convert them with
# mmseg's tools/model_converters/mit2mmseg.py and set
#     model.backbone.init_cfg=dict(type='Pretrained', checkpoint=FILE)
_base_ = ['../zoedepth/zoe_segdistill_swin2b_nyu-384x384.py']
model = dict(
    core_checkpoint=None,  # the recipe's MiDaS SwinV2-B core does not fit
    backbone=dict(
        _delete_=True,
        type='MixVisionTransformer',
        in_channels=3,
        embed_dims=32,
        num_stages=4,
        num_layers=[2, 2, 2, 2],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1),
    neck=dict(in_channels=[32, 64, 160, 256]))
