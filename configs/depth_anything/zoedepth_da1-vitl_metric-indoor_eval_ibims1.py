# Depth Anything V1 metric indoor model, zero-shot on iBims-1 (100 images)
# with ZoeDepth's protocol (flip averaging, Eigen crop, 0 < gt < 10 m), as
# configs/zoedepth/zoedepth_swin2b_eval_ibims1.py.
#     python tools/test.py \
#         configs/depth_anything/zoedepth_da1-vitl_metric-indoor_eval_ibims1.py \
#         checkpoints/da1_metric_indoor-mmzoe.pth
_base_ = [
    './zoedepth_da1-vitl_metric-indoor.py',
    '../_base_/evals/ibims1.py',
]
model = dict(test_cfg=dict(mode='whole', flip=True))
