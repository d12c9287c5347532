# Tiny ZoeDepth-NK for tests and CPU demos: zoedepth_tiny.py's core with a
# routed two-domain head (NYU 10 m, KITTI 80 m). Random weights only.
_base_ = ['./zoedepth_tiny.py']
model = dict(
    type='ZoeDepthNKEstimator',
    decode_head=dict(
        _delete_=True,
        type='ZoeDepthNKHead',
        in_channels=32,
        out_conv_channels=8,
        domains=[
            dict(name='nyu', n_bins=16, min_depth=1e-3, max_depth=10.0),
            dict(name='kitti', n_bins=12, min_depth=1e-3, max_depth=80.0),
        ],
        bin_embedding_dim=16,
        n_attractors=[4, 4, 4, 4],
        attractor_kind='mean',
        attractor_type='inv',
        bin_centers_type='softplus',
        seed_mlp_dim=8,
        projector_mlp_dim=8,
        attractor_mlp_dim=16,
        clb_bottleneck_factor=4,
        router=dict(patch_size=1, embedding_dim=16, num_heads=2,
                    num_layers=2, feedforward_dim=32, hidden_dim=16),
        route='image',
        domain_loss_weight=100.0,
        loss_decode=dict(
            type='ZoeSILogLoss', beta=0.15, min_depth=1e-3, max_depth=80.0,
            loss_weight=1.0)))
