# Depth Anything V1 metric outdoor model on the KITTI Eigen test split (652
# frames with ground truth) with the protocol of upstream's metric_depth
# evaluation (its KITTI dataset settings): KB crop 352x1216, the image
# squashed to the model's 392x518, flip averaging, prediction resized to the
# cropped GT and clipped to [1e-3, 80] m, valid 1e-3 < gt < 80, Garg crop.
#     python tools/test.py \
#         configs/depth_anything/zoedepth_da1-vitl_metric-outdoor_eval_kitti-eigen.py \
#         checkpoints/da1_metric_outdoor-mmzoe.pth
_base_ = [
    './zoedepth_da1-vitl_metric-outdoor.py',
    '../_base_/evals/kitti_eigen.py',
]
model = dict(test_cfg=dict(mode='whole', flip=True))
