# The source report's recipe WITHOUT the segmentation branch (the ablation):
# ZoeDepth (SwinV2-B MiDaS core, NYU metric-bins head) on the NYU Depth V2
# labeled set, seeded random 80/20 split (1158 train / 291 val), images
# squashed to 384x384 inside the model, batch 3, 100 epochs, AdamW 1.61e-4,
# wd 0.01, OneCycle (div 1, final_div 1e4, pct 0.7, cosine, beta1 cycling),
# validation every quarter epoch, best checkpoint by abs_rel.
# The core starts from MiDaS v3.1 dpt_swin2_base_384 weights converted with
#     python tools/model_converters/midas_to_mmzoe.py \
#         dpt_swin2_base_384.pt checkpoints/midas_dpt_swin2_base_384-mmzoe.pth
# From scratch: --cfg-options model.core_checkpoint=None
_base_ = [
    '../_base_/models/zoedepth_swin2b.py',
    '../_base_/datasets/nyu_labeled.py',
    '../_base_/schedules/schedule_onecycle_100e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    core_checkpoint='checkpoints/midas_dpt_swin2_base_384-mmzoe.pth')
# no segmentation labels needed without the branch
train_dataloader = dict(batch_size=3, dataset=dict(with_labels=False))
