# ZoeD_M12_K: ZoeDepth for KITTI on the MiDaS v3.1 BEiT-L-384 core, the
# layout of upstream's released ZoeD_M12_K.pt. Head: 'normed' bins bounded
# to [1e-3, 80] m (upstream config_zoedepth_kitti.json + the KITTI dataset
# range), otherwise as ZoeD_M12_N. Network input about 384x768 (upstream's
# img_size for KITTI). keep_ratio=True (here) is upstream's `infer` mode
# (torch.hub's ZoeD_K): both sides scaled by the factor closer to 1,
# multiples of 32 (a 352x1216 frame runs at 384x1312); the evaluation /
# training configs set keep_ratio=False, upstream's `eval` / `train` modes
# (squashed to 384x768).
# Weights: tools/model_converters/zoedepth_to_mmzoe.py ZoeD_M12_K.pt OUT.pth
_base_ = ['./zoedepth_beitl384.py']
model = dict(
    data_preprocessor=dict(size=(384, 768), keep_ratio=True),
    decode_head=dict(
        bin_centers_type='normed',
        max_depth=80.0,
        loss_decode=dict(max_depth=80.0)))
