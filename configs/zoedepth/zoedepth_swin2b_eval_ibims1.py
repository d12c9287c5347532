# Zero-shot evaluation on iBims-1 (100 images, ibims1_core_raw) with
# ZoeDepth's protocol (docs/upstream_facts.md): depth = png * 50 / 65535 m,
# pixels outside
# mask_invalid * mask_transp dropped, 0 < gt < 10 m, Eigen crop, flip
# averaging, per-image metrics averaged.
#     python tools/test.py configs/zoedepth/zoedepth_swin2b_eval_ibims1.py CKPT
_base_ = [
    '../_base_/models/zoedepth_swin2b.py',
    '../_base_/evals/ibims1.py',
    '../_base_/default_runtime.py',
]
model = dict(test_cfg=dict(mode='whole', flip=True))
# depth panels of the first images (tools/test.py --show-dir DIR)
default_hooks = dict(
    visualization=dict(
        type='ZoeDepthPanelHook', num_images=4, save_files=False))
