# Tiny Depth Anything core (DINOv2 ViT: 24 wide, 4 blocks, 2 heads, 4x4
# position grid; DPT width 16) + metric head + U-Net segmentation branch, for
# the tests of the Depth Anything recipe. Network input 42x56 (3x4 patches).
_base_ = [
    '../../configs/_base_/models/zoedepth_da_vits.py',
    '../../configs/_base_/models/aux_unet_seg.py'
]
default_scope = 'mmzoe'
model = dict(
    data_preprocessor=dict(size=(42, 56)),
    backbone=dict(
        arch='vits', img_size=56, embed_dim=24, depth=4, num_heads=2,
        out_indices=(0, 1, 2, 3)),
    neck=dict(
        in_channels=[8, 16, 24, 24],
        channels=16,
        reassemble=dict(in_channels=24, out_channels=(8, 16, 24, 24)),
        relative_head=dict(feat_channels=8)),
    decode_head=dict(
        in_channels=16,
        out_conv_channels=8,
        n_bins=16,
        bin_embedding_dim=16,
        n_attractors=[4, 2, 2, 1],
        seed_mlp_dim=32,
        projector_mlp_dim=16,
        attractor_mlp_dim=16),
    auxiliary_head=dict(
        _base_.aux_unet_seg_head,
        in_channels=[16, 16, 16, 16, 16],
        block_channels=[16, 8, 8, 8, 8]))
