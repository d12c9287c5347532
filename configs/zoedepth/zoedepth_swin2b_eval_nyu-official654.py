# Evaluation on the 654 official NYU Depth V2 test images (= the Eigen test
# set) with ZoeDepth's protocol (spec §9): whole-image horizontal-flip
# averaging, prediction resized bilinearly (align_corners=True) to 480x640,
# clipped to [1e-3, 10] m, valid 1e-3 < gt < 10, Eigen crop [45:471, 41:601],
# per-image metrics averaged over images. Ground truth = rawDepths (projected
# Kinect depth, 0 = missing).
# bts_export=True (default here): every image and depth map is exactly what
# the BTS export (official_splits/test, the files published NYU numbers were
# computed on) reads back: RGB outside [7:474, 7:632] black (instead of NYU's
# white undistortion border), a JPEG round trip with OpenCV's default
# quality 95, depth truncated to whole millimetres. Set
# test_dataloader.dataset.bts_export=False for the .mat arrays as they are.
# tools/dataset_converters/nyu_labeled_to_bts.py writes the same files.
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
        with_labels=False,
        bts_export=True))
val_dataloader = test_dataloader
test_evaluator = dict(
    type='ZoeDepthMetric', min_depth=1e-3, max_depth=10.0, crop='eigen')
val_evaluator = test_evaluator
test_cfg = dict(type='TestLoop')
# depth panels of the first images (tools/test.py --show-dir DIR)
default_hooks = dict(
    visualization=dict(
        type='ZoeDepthPanelHook', num_images=4, save_files=False))
val_cfg = dict(type='ValLoop')
# Evaluation only: drop the training set that _base_/datasets/nyu_labeled.py
# defines (MMEngine's Runner wants train_dataloader, train_cfg and
# optim_wrapper all set or all None; mmseg's tools/test.py builds the same
# Runner).
train_dataloader = None
train_cfg = None
optim_wrapper = None
