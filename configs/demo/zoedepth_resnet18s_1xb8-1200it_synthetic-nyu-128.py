# The CPU demo WITHOUT the segmentation branch (the ablation of
# zoedepth_resnet18s-segdistill_1xb8-1200it_synthetic-nyu-128.py, as
# configs/zoedepth/zoe_swin2b_nyu-384x384.py is for the SwinV2-B recipe):
# same core, heads, data, schedule and seed handling; no auxiliary head and
# no segmentation labels read. The depth model's parameters are built in the
# same order before the (absent) auxiliary head, so with the same seed both
# variants start from the same depth weights and see the same batches.
# Compare the two with tools/analysis_tools/ablation.py (docs/ablation.md).
_base_ = ['./zoedepth_resnet18s-segdistill_1xb8-1200it_synthetic-nyu-128.py']
model = dict(auxiliary_head=None)
train_dataloader = dict(dataset=dict(with_labels=False))
