# ZoeD_M12_K: upstream ZoeDepth's KITTI recipe on the MiDaS v3.1 BEiT-L-384
# core (the released ZoeD_M12_K.pt): the NYU recipe's schedule (AdamW
# 1.61e-4, OneCycle, 5 epochs, batch 16) on the KITTI Eigen training list,
# KB crop 352x1216, rotation +-1 deg, flip, colour jitter (brightness
# 0.9..1.1), input squashed to 384x768, 'normed' bins up to 80 m, SILog on
# 1e-3 < gt < 80. Validation on the Eigen test split (Garg crop).
# Core weights: MiDaS dpt_beit_large_384.pt converted with
#     python tools/model_converters/midas_to_mmzoe.py \
#         dpt_beit_large_384.pt checkpoints/midas_dpt_beit_large_384-mmzoe.pth
_base_ = [
    '../_base_/models/zoedepth_k_beitl384.py',
    '../_base_/datasets/kitti_eigen.py',
    '../_base_/schedules/schedule_onecycle_5e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor=dict(keep_ratio=False),
    core_checkpoint='checkpoints/midas_dpt_beit_large_384-mmzoe.pth')
optim_wrapper = dict(
    paramwise_cfg=dict(encoder_prefix=('backbone.', 'neck.reassemble.')))
train_dataloader = dict(batch_size=16, num_workers=8)
