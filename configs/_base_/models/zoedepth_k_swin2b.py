# ZoeDepth in the ZoeD-M12-K layout (KITTI: 'normed' bins bounded to
# [1e-3, 80] m, otherwise the ZoeD-M12-N head) on the SwinV2-B-384 core.
# Upstream released ZoeD_M12_K on the BEiT-L-384 core only; this SwinV2-B
# variant is what upstream builds with midas_model_type=DPT_SwinV2_B_384 and
# config_version='kitti' (the SwinV2 core is fixed-size: 384x384).
_base_ = ['./zoedepth_swin2b.py']
model = dict(
    decode_head=dict(
        bin_centers_type='normed',
        min_depth=1e-3,
        max_depth=80.0,
        loss_decode=dict(min_depth=1e-3, max_depth=80.0)))
