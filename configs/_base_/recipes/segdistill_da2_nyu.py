# The source report's recipe (configs/zoe_segdistill_nyu.py) on a Depth
# Anything V2 core (the configs/depth_anything/zoe_segdistill_da2-vit{s,b,l}_
# nyu-392x518.py family): NYU Depth V2 labeled 80/20 split with labels,
# batch 3, 100 epochs OneCycle (AdamW 1.61e-4, wd 0.01), and, as Depth
# Anything's own ZoeDepth fine-tuning, encoder, position embedding and DPT
# head at lr / 50 (its encoder_lr_factor / pos_enc_lr_factor /
# midas_lr_factor), metric and segmentation heads at lr. A leaf adds the
# model and plugs in the branch at the core's DPT width:
#     _base_ = ['../_base_/models/zoedepth_da_vitb.py',
#               '../_base_/recipes/segdistill_da2_nyu.py']
#     model = dict(auxiliary_head=dict(
#         _base_.aux_unet_seg_head, in_channels=[_base_.da_features] * 5))
_base_ = [
    '../models/aux_unet_seg.py',
    '../datasets/nyu_labeled.py',
    '../schedules/schedule_onecycle_100e.py',
    '../default_runtime.py',
]
train_dataloader = dict(batch_size=3, dataset=dict(with_labels=True))
optim_wrapper = dict(
    paramwise_cfg=dict(
        encoder_lr_factor=50, pos_enc_lr_factor=50, decoder_lr_factor=50,
        pos_enc_key='pos_embed'))
