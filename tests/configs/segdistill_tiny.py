# Tiny ZoeDepth + U-Net segmentation branch for the segdistill tests: the
# model bases merge through _base_; only the widths of the tiny neck (32
# channels) are overridden here.
_base_ = [
    '../../configs/_base_/models/zoedepth_tiny.py',
    '../../configs/_base_/models/aux_unet_seg.py'
]
default_scope = 'mmzoe'
model = dict(
    auxiliary_head=dict(
        _base_.aux_unet_seg_head,
        in_channels=[32, 32, 32, 32, 32],
        block_channels=[32, 16, 16, 8, 8]))
