# Depth Anything V1 metric indoor model on the 654 official NYU Depth V2 test
# images with ZoeDepth's protocol (flip averaging, Eigen crop, 1e-3 < gt < 10,
# rawDepths ground truth, BTS-export images), as
# configs/zoedepth/zoedepth_swin2b_eval_nyu-official654.py.
#     python tools/test.py \
#         configs/depth_anything/zoedepth_da1-vitl_metric-indoor_eval_nyu-official654.py \
#         checkpoints/da1_metric_indoor-mmzoe.pth
_base_ = [
    './zoedepth_da1-vitl_metric-indoor.py',
    '../_base_/evals/nyu_official654.py',
]
model = dict(test_cfg=dict(mode='whole', flip=True))
