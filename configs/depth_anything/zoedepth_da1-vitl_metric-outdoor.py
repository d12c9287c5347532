# Depth Anything V1 metric depth, outdoor (depth_anything_metric_depth_outdoor.pt,
# fine-tuned on KITTI): the indoor model's settings with the KITTI depth range
# 0.001-80 m. Upstream's metric_depth trains and evaluates KITTI with its
# default model config (config_zoedepth.json: softplus bin centres, images
# squashed to 392x518; its config_zoedepth_kitti.json is used only when
# config_version=kitti is passed, which its README commands do not).
#     python tools/model_converters/depth_anything_metric_to_mmzoe.py \
#         depth_anything_metric_depth_outdoor.pt \
#         checkpoints/da1_metric_outdoor-mmzoe.pth
# Evaluation on KITTI: zoedepth_da1-vitl_metric-outdoor_eval_kitti-eigen.py.
_base_ = ['./zoedepth_da1-vitl_metric-indoor.py']
model = dict(
    decode_head=dict(max_depth=80.0, loss_decode=dict(max_depth=80.0)))
