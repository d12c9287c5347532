# The source report's recipe (configs/zoe_segdistill_nyu.py: ZoeDepth +
# training-only U-Net segmentation branch, L = L_pixel + 0.1 * (0.5 Dice +
# 0.5 Focal), NYU Depth V2 labeled 80/20 split, batch 3, 100 epochs, AdamW
# 1.61e-4, wd 0.01, OneCycle, validation every quarter epoch, best by
# abs_rel) on the Depth Anything V2 ViT-B/14 core instead of MiDaS
# SwinV2-B. As Depth Anything's own ZoeDepth fine-tuning: images squashed to
# 392x518 in the model, ImageNet mean/std, encoder, position embedding and DPT
# head at lr / 50 (its encoder_lr_factor / pos_enc_lr_factor /
# midas_lr_factor), metric and segmentation heads at lr.
# The core starts from the released relative model:
#     python tools/model_converters/depth_anything_to_mmzoe.py \
#         depth_anything_v2_vitb.pth checkpoints/da2_vitb_core-mmzoe.pth
_base_ = [
    '../_base_/models/zoedepth_da_vitb.py',
    '../_base_/recipes/segdistill_da2_nyu.py',
]
model = dict(
    core_checkpoint='checkpoints/da2_vitb_core-mmzoe.pth',
    auxiliary_head=dict(
        _base_.aux_unet_seg_head,
        in_channels=[_base_.da_features] * 5,  # 128: the DPT width
        lambda_dis=0.1))
