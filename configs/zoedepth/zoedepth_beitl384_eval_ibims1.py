# ZoeD_M12_N zero-shot on iBims-1 (100 images) with upstream's protocol:
# `eval` config mode (input squashed to 384x512), flip averaging, depth =
# png * 50 / 65535 m, mask_invalid * mask_transp, 0 < gt < 10 m, Eigen crop,
# per-image metrics averaged.
#     python tools/test.py configs/zoedepth/zoedepth_beitl384_eval_ibims1.py \
#         checkpoints/zoedepth_m12_n-mmzoe.pth
# Published for ZoeD_M12_N: delta1 0.658, REL 0.169.
_base_ = [
    '../_base_/models/zoedepth_beitl384.py',
    '../_base_/evals/ibims1.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor=dict(keep_ratio=False),
    test_cfg=dict(mode='whole', flip=True))
