# Training-only U-Net segmentation branch ("segmentation cross-talk
# distillation") as an auxiliary head of ZoeDepthEstimator. MMEngine refuses
# the same key (`model`) in two bases of one config, so this base defines the
# head as the variable `aux_unet_seg_head`; a leaf config plugs it in:
#     _base_ = ['../_base_/models/zoedepth_swin2b.py',
#               '../_base_/models/aux_unet_seg.py', ...]
#     model = dict(auxiliary_head=_base_.aux_unet_seg_head)
# (tiny models: model = dict(auxiliary_head=dict(
#      _base_.aux_unet_seg_head, in_channels=[32] * 5,
#      block_channels=[32, 16, 16, 8, 8])) ).
# Total loss: L = L_pixel + lambda_dis * (a * Dice + (1 - a) * Focal), logged
# as decode.loss_* and aux.loss_dice (weight lambda_dis * a) + aux.loss_focal
# (weight lambda_dis * (1 - a)). Change a with
#     --cfg-options model.auxiliary_head.dice_ratio=0.3
# Labels come from gt_sem_seg (NYU-14: 0 = unknown is a real class, 255 =
# ignore). tools/publish_model.py strips auxiliary_head.* from checkpoints.
aux_unet_seg_head = dict(
    type='ZoeUNetSegHead',
    # widths of ZoeCoreOutput.pyramid(): bottleneck (l4_rn), r4, r3, r2, r1
    in_channels=[256, 256, 256, 256, 256],
    block_channels=[256, 128, 64, 32, 16],
    # U-Net up-convolution (2x2 stride-2 transposed conv): 3.49 M parameters,
    # whole SwinV2-B model 105.3 M; 'bilinear': 2.87 M, no learned upsampling
    upsample_mode='deconv',
    num_classes=14,
    ignore_index=255,
    align_corners=True,
    dropout_ratio=0.0,
    norm_cfg=None,
    lambda_dis=0.1,  # weight of L_seg relative to the depth loss
    dice_ratio=0.5,  # a in L_seg = a * Dice + (1 - a) * Focal
    dice_cfg=dict(smooth=1.0),
    focal_cfg=dict(gamma=2.0, alpha=None))
