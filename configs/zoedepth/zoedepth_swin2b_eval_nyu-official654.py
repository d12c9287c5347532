# Evaluation on the 654 official NYU Depth V2 test images (= the Eigen test
# set) with ZoeDepth's protocol (spec §9): whole-image horizontal-flip
# averaging, prediction resized bilinearly (align_corners=True) to 480x640,
# clipped to [1e-3, 10] m, valid 1e-3 < gt < 10, Eigen crop [45:471, 41:601],
# per-image metrics averaged over images. Ground truth = rawDepths (projected
# Kinect depth, 0 = missing), as the BTS export that published numbers use.
# (BTS's export also blacks out the RGB outside [7:474, 7:632]; the .mat
# images keep NYU's white undistortion border. Both lie outside the crop.)
#     python tools/test.py configs/zoedepth/zoedepth_swin2b_eval_nyu-official654.py CKPT
_base_ = [
    '../_base_/models/zoedepth_swin2b.py',
    '../_base_/datasets/nyu_labeled.py',
    '../_base_/default_runtime.py',
]
model = dict(test_cfg=dict(mode='whole', flip=True))
test_dataloader = dict(
    dataset=dict(
        split='official',
        subset='test',
        num_val=None,
        depth_key='rawDepths',
        with_labels=False))
val_dataloader = test_dataloader
test_evaluator = dict(
    type='ZoeDepthMetric', min_depth=1e-3, max_depth=10.0, crop='eigen')
val_evaluator = test_evaluator
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
# Evaluation only: drop the training set that _base_/datasets/nyu_labeled.py
# defines (MMEngine's Runner wants train_dataloader, train_cfg and
# optim_wrapper all set or all None; mmseg's tools/test.py builds the same
# Runner).
train_dataloader = None
train_cfg = None
optim_wrapper = None
