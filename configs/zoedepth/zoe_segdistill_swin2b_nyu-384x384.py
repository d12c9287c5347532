# The source report's experiment: ZoeDepth with segmentation cross-talk
# distillation. Everything as zoe_swin2b_nyu-384x384.py (the ablation without
# the branch) plus the training-only U-Net segmentation head on the core's
# decoder features (1/32 ... 1/2), 14 NYU classes (13 + unknown), loss
# L = L_pixel + 0.1 * (0.5 * Dice + 0.5 * Focal). The branch never runs at
# inference; tools/publish_model.py strips its weights.
_base_ = [
    './zoe_swin2b_nyu-384x384.py',
    '../_base_/models/aux_unet_seg.py',
]
model = dict(auxiliary_head=dict(_base_.aux_unet_seg_head, lambda_dis=0.1))
train_dataloader = dict(dataset=dict(with_labels=True))
