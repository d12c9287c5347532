# ZoeDepth on a Depth Anything ViT-B/14 core (DPT width 128, projections
# 96/192/384/768, V2 encoder blocks 2, 5, 8, 11; V1: 8, 9, 10, 11). See
# zoedepth_da_vitl.py.
_base_ = ['./zoedepth_da_vitl.py']
da_features = 128
model = dict(
    backbone=dict(arch='vitb', out_indices=(2, 5, 8, 11)),
    neck=dict(
        in_channels=[96, 192, 384, 768],
        channels=da_features,
        reassemble=dict(in_channels=768, out_channels=(96, 192, 384, 768))),
    decode_head=dict(in_channels=da_features))
