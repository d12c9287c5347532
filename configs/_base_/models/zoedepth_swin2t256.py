# ZoeDepth (ZoeD-M12-N layout) on the MiDaS v3.1 DPT SwinV2-T-256 core
# (timm swinv2_tiny_window16_256; the four stage outputs, channels
# 96/192/384/768). Fixed-size 256x256 input (MiDaS v3.1's size for it).
# MiDaS weights: tools/model_converters/midas_to_mmzoe.py dpt_swin2_tiny_256.pt
_base_ = ['./zoedepth_swin2b.py']
data_preprocessor = dict(size=(256, 256))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(arch='swinv2_tiny_window16_256', img_size=256),
    neck=dict(in_channels=[96, 192, 384, 768]))
