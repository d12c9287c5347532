# ZoeD_M12_N on the 654 official NYU Depth V2 test images with upstream's
# protocol: upstream's `eval` config mode (input squashed to 384x512, no
# aspect-ratio keeping), flip averaging, prediction resized bilinearly
# (align_corners=True) to 480x640 and clipped to [1e-3, 10] m, valid
# 1e-3 < gt < 10, Eigen crop, per-image metrics averaged; images and depth
# read as the BTS export has them (as zoedepth_swin2b_eval_nyu-official654.py).
#     python tools/model_converters/zoedepth_to_mmzoe.py ZoeD_M12_N.pt \
#         checkpoints/zoedepth_m12_n-mmzoe.pth
#     python tools/test.py \
#         configs/zoedepth/zoedepth_beitl384_eval_nyu-official654.py \
#         checkpoints/zoedepth_m12_n-mmzoe.pth
# Published for ZoeD_M12_N: delta1 0.955, REL 0.075, RMSE 0.270, log10 0.032.
_base_ = [
    '../_base_/models/zoedepth_beitl384.py',
    '../_base_/evals/nyu_official654.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor=dict(keep_ratio=False),
    test_cfg=dict(mode='whole', flip=True))
