# ZoeD_M12_N: upstream ZoeDepth's NYU recipe on the MiDaS v3.1 BEiT-L-384
# core (the released ZoeD_M12_N.pt). As zoedepth_swin2b_nyu-eigen.py, plus:
# input squashed to 384x512 (upstream's `train` mode), and the DPT reassemble
# stage (upstream: part of MiDaS' `pretrained`) trained with the encoder's
# lr / 10, as upstream's parameter groups do.
# Core weights: MiDaS dpt_beit_large_384.pt converted with
#     python tools/model_converters/midas_to_mmzoe.py \
#         dpt_beit_large_384.pt checkpoints/midas_dpt_beit_large_384-mmzoe.pth
_base_ = [
    '../_base_/models/zoedepth_beitl384.py',
    '../_base_/datasets/nyu_eigen.py',
    '../_base_/schedules/schedule_onecycle_5e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor=dict(keep_ratio=False),
    core_checkpoint='checkpoints/midas_dpt_beit_large_384-mmzoe.pth')
optim_wrapper = dict(
    paramwise_cfg=dict(encoder_prefix=('backbone.', 'neck.reassemble.')))
train_dataloader = dict(batch_size=16, num_workers=8)
