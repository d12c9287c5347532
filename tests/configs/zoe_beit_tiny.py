# Tiny BEiT-core ZoeDepth for tests: the BEiT-L-384 model config with a
# 4-block, 32-wide BEiT (bias tables for a 4x4 grid: 64x64 inputs), all four
# blocks hooked, DPT channels 16. Inputs are resized to 64x96 (a 4x6 grid,
# so the bias tables are resized as MiDaS does).
_base_ = ['../../configs/_base_/models/zoedepth_beitl384.py']
default_scope = 'mmzoe'
custom_imports = dict(imports=['mmzoe'], allow_failed_imports=False)
data_preprocessor = dict(size=(64, 96))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        out_indices=(0, 1, 2, 3), img_size=64, embed_dim=32, depth=4,
        num_heads=2),
    neck=dict(
        reassemble=dict(in_channels=32, out_channels=[8, 16, 32, 32]),
        in_channels=[8, 16, 32, 32],
        channels=16,
        channels_last=False),
    decode_head=dict(in_channels=16, n_bins=16, bin_embedding_dim=16,
                     n_attractors=[4, 2, 2, 1]))
