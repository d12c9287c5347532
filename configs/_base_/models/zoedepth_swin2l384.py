# ZoeDepth (ZoeD-M12-N layout) on the MiDaS v3.1 DPT SwinV2-L-384 core
# (MiDaS: timm 0.6 swinv2_large_window12to24_192to384_22kft1k, named
# swinv2_large_window12to24_192to384 in timm 1.x; the four stage outputs,
# channels 192/384/768/1536). Fixed-size 384x384 input, as SwinV2-B.
# MiDaS weights:
#     tools/model_converters/midas_to_mmzoe.py dpt_swin2_large_384.pt OUT
_base_ = ['./zoedepth_swin2b.py']
model = dict(
    backbone=dict(arch='swinv2_large_window12to24_192to384'),
    neck=dict(in_channels=[192, 384, 768, 1536]))
