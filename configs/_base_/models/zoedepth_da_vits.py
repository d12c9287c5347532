# ZoeDepth on a Depth Anything ViT-S/14 core (DPT width 64, projections
# 48/96/192/384, V2 encoder blocks 2, 5, 8, 11; V1: 8, 9, 10, 11). See
# zoedepth_da_vitl.py.
_base_ = ['./zoedepth_da_vitl.py']
da_features = 64
model = dict(
    backbone=dict(arch='vits', out_indices=(2, 5, 8, 11)),
    neck=dict(
        in_channels=[48, 96, 192, 384],
        channels=da_features,
        reassemble=dict(in_channels=384, out_channels=(48, 96, 192, 384))),
    decode_head=dict(in_channels=da_features))
