# ZoeD_M12_K on the KITTI Eigen test split (652 frames with ground truth of
# the 697-line BTS list) with upstream's protocol: KB crop 352x1216, input
# squashed to 384x768 (upstream's `eval` mode), flip averaging, prediction
# resized bilinearly (align_corners=True) to the cropped GT and clipped to
# [1e-3, 80] m, valid 1e-3 < gt < 80, Garg crop, per-image metrics averaged.
#     python tools/model_converters/zoedepth_to_mmzoe.py ZoeD_M12_K.pt \
#         checkpoints/zoedepth_m12_k-mmzoe.pth
#     python tools/test.py configs/zoedepth/zoedepth_beitl384_eval_kitti-eigen.py \
#         checkpoints/zoedepth_m12_k-mmzoe.pth
_base_ = [
    '../_base_/models/zoedepth_k_beitl384.py',
    '../_base_/evals/kitti_eigen.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor=dict(keep_ratio=False),
    test_cfg=dict(mode='whole', flip=True))
