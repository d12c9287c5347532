# ZoeD_M12_NK on the KITTI Eigen test split, upstream's KITTI protocol (KB
# crop, Garg crop, 1e-3 < gt < 80 m, flip averaging; input squashed to
# 384x512, upstream's `eval` mode for NK). The router picks the head of each
# frame; the per-image CSV (--out) and `pred_domain` show which.
#     python tools/model_converters/zoedepth_to_mmzoe.py ZoeD_M12_NK.pt \
#         checkpoints/zoedepth_m12_nk-mmzoe.pth
#     python tools/test.py configs/zoedepth/zoedepth-nk_beitl384_eval_kitti-eigen.py \
#         checkpoints/zoedepth_m12_nk-mmzoe.pth
_base_ = [
    '../_base_/models/zoedepth_nk_beitl384.py',
    '../_base_/evals/kitti_eigen.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor=dict(keep_ratio=False),
    test_cfg=dict(mode='whole', flip=True))
