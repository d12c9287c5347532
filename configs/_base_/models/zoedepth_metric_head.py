# The ZoeD-M12-N metric bins head (ZoeDepthHead: 64 softplus bins for
# 1e-3..10 m, attractors 16/8/4/1, SILog loss on the same range), shared by
# the single-head model bases. It defines only `model.decode_head`: a model
# base lists this file in `_base_` and states what differs (its width, bin
# type, range) plus the head's speed switches (clb_project_condition,
# fused_expectation, with_cp), which stay in each model base.
model = dict(
    decode_head=dict(
        type='ZoeDepthHead',
        in_channels=256,
        out_conv_channels=32,
        n_bins=64,
        bin_embedding_dim=128,
        n_attractors=[16, 8, 4, 1],
        attractor_alpha=1000,
        attractor_gamma=2,
        attractor_kind='mean',
        attractor_type='inv',
        bin_centers_type='softplus',
        min_depth=1e-3,
        max_depth=10.0,
        min_temp=0.0212,
        max_temp=50.0,
        align_corners=True,
        loss_decode=dict(
            type='ZoeSILogLoss', beta=0.15, min_depth=1e-3, max_depth=10.0,
            loss_weight=1.0)))
