# Depth Anything V1 metric depth, indoor (depth_anything_metric_depth_indoor.pt,
# fine-tuned on NYU Depth V2): ZoeDepth's metric-bins head (ZoeD-M12-N
# settings: softplus bin centres, 0.001-10 m) on the Depth Anything ViT-L/14
# core, which reads the LAST four encoder blocks (V1; V2 reads 4, 11, 17, 23).
# Input as upstream's evaluation: squashed to 392x518 in the model (bilinear,
# align_corners=True), ImageNet mean/std.
#     python tools/model_converters/depth_anything_metric_to_mmzoe.py \
#         depth_anything_metric_depth_indoor.pt \
#         checkpoints/da1_metric_indoor-mmzoe.pth
#     python tools/infer.py configs/depth_anything/zoedepth_da1-vitl_metric-indoor.py \
#         checkpoints/da1_metric_indoor-mmzoe.pth img.jpg
_base_ = [
    '../_base_/models/zoedepth_da_vitl.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(out_indices=(20, 21, 22, 23)),
    test_cfg=dict(mode='whole', flip=False))
