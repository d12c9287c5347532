# Depth Anything V1 metric depth, outdoor (depth_anything_metric_depth_outdoor.pt,
# fine-tuned on KITTI): ZoeDepth's metric-bins head with ZoeD-M12-K settings
# ("normed" bin centres, 0.001-80 m) on the Depth Anything ViT-L/14 core (last
# four encoder blocks). Input squashed to 384x768 in the model (upstream's
# KITTI evaluation size), ImageNet mean/std.
#     python tools/model_converters/depth_anything_metric_to_mmzoe.py \
#         depth_anything_metric_depth_outdoor.pt \
#         checkpoints/da1_metric_outdoor-mmzoe.pth
# Model and inference only: a KITTI evaluation config follows once mmzoe has
# a KITTI dataset.
_base_ = ['./zoedepth_da1-vitl_metric-indoor.py']
model = dict(
    data_preprocessor=dict(size=(384, 768)),
    decode_head=dict(
        bin_centers_type='normed',
        max_depth=80.0,
        loss_decode=dict(max_depth=80.0)))
