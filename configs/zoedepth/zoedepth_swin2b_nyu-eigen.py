# Upstream ZoeDepth's NYU recipe (docs/upstream_facts.md) on the SwinV2-B
# core: the BTS
# "sync" training list (24,231 frames), the 654 official test images, rotation
# +-1 deg, flip, colour augmentation, SILog only, AdamW 1.61e-4 / wd 0.01 with
# per-part lrs (encoder lr/10, DPT decoder lr/1, metric head lr) built by
# ZoeDepthOptimWrapperConstructor, OneCycle over 5 epochs, gradient clipping
# 0.1, validation every quarter epoch, best checkpoint by abs_rel, seed 43.
# Batch size 16 in total: batch_size below is PER PROCESS, so with N GPUs
# run tools/dist_train.sh with --cfg-options train_dataloader.batch_size=16/N.
_base_ = [
    '../_base_/models/zoedepth_swin2b.py',
    '../_base_/datasets/nyu_eigen.py',
    '../_base_/schedules/schedule_onecycle_5e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    core_checkpoint='checkpoints/midas_dpt_swin2_base_384-mmzoe.pth')
train_dataloader = dict(batch_size=16, num_workers=8)
