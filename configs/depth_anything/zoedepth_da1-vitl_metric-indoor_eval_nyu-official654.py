# Depth Anything V1 metric indoor model on the 654 official NYU Depth V2 test
# images with ZoeDepth's protocol (flip averaging, Eigen crop, 1e-3 < gt < 10,
# rawDepths ground truth, BTS-export images), as
# configs/zoedepth/zoedepth_swin2b_eval_nyu-official654.py.
#     python tools/test.py \
#         configs/depth_anything/zoedepth_da1-vitl_metric-indoor_eval_nyu-official654.py \
#         checkpoints/da1_metric_indoor-mmzoe.pth
_base_ = [
    './zoedepth_da1-vitl_metric-indoor.py',
    '../_base_/datasets/nyu_labeled.py',
]
model = dict(test_cfg=dict(mode='whole', flip=True))
test_dataloader = dict(
    dataset=dict(
        split='official',
        subset='test',
        num_val=None,
        depth_key='rawDepths',
        with_labels=False,
        bts_export=True))
val_dataloader = test_dataloader
test_evaluator = dict(
    type='ZoeDepthMetric', min_depth=1e-3, max_depth=10.0, crop='eigen')
val_evaluator = test_evaluator
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
train_dataloader = None
train_cfg = None
optim_wrapper = None
