# Evaluation on the 654 official NYU Depth V2 test images (= the Eigen test
# set) with ZoeDepth's protocol (docs/upstream_facts.md): whole-image
# horizontal-flip
# averaging, prediction resized bilinearly (align_corners=True) to 480x640,
# clipped to [1e-3, 10] m, valid 1e-3 < gt < 10, Eigen crop [45:471, 41:601],
# per-image metrics averaged over images. Ground truth = rawDepths (projected
# Kinect depth, 0 = missing).
# The test set, its ground truth and bts_export (images and depth as the BTS
# export reads them back): configs/_base_/evals/nyu_official654.py.
#     python tools/test.py configs/zoedepth/zoedepth_swin2b_eval_nyu-official654.py CKPT
_base_ = [
    '../_base_/models/zoedepth_swin2b.py',
    '../_base_/evals/nyu_official654.py',
    '../_base_/default_runtime.py',
]
model = dict(test_cfg=dict(mode='whole', flip=True))
# depth panels of the first images (tools/test.py --show-dir DIR)
default_hooks = dict(
    visualization=dict(
        type='ZoeDepthPanelHook', num_images=4, save_files=False))
