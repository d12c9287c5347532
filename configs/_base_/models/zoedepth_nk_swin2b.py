# ZoeDepth-NK (ZoeD-M12-NK layout: shared core and bin embeddings, an NYU
# head (10 m) and a KITTI head (80 m), a patch-transformer router) on the
# SwinV2-B-384 core. Upstream released ZoeD_M12_NK on the BEiT-L-384 core
# only; this is what upstream builds with midas_model_type=DPT_SwinV2_B_384.
_base_ = ['./zoedepth_swin2b.py', './zoedepth_nk_head.py']
model = dict(
    type='ZoeDepthNKEstimator', decode_head={{_base_.nk_decode_head}})
