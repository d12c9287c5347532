# The ZoeD_M12_NK metric head (ZoeDepthNKHead), shared by the NK model
# configs: `decode_head={{_base_.nk_decode_head}}` with this file as a base
# (it defines no `model`, so it combines with a core's model base).
nk_decode_head = dict(
    _delete_=True,
    type='ZoeDepthNKHead',
    in_channels=256,
    out_conv_channels=32,
    # logit order of the router: 0 = nyu, 1 = kitti (upstream)
    domains=[
        dict(name='nyu', n_bins=64, min_depth=1e-3, max_depth=10.0),
        dict(name='kitti', n_bins=64, min_depth=1e-3, max_depth=80.0),
    ],
    bin_embedding_dim=128,
    # upstream passes [16, 8, 4, 1] as the attractors' n_bins: every
    # stage of the released model has 16 attractors
    n_attractors=[16, 16, 16, 16],
    attractor_alpha=1000,
    attractor_gamma=2,
    attractor_kind='mean',
    attractor_type='inv',
    bin_centers_type='softplus',
    min_temp=0.0212,
    max_temp=50.0,
    seed_mlp_dim=64,
    projector_mlp_dim=64,
    attractor_mlp_dim=128,
    clb_bottleneck_factor=4,
    router=dict(patch_size=1, embedding_dim=128, num_heads=4,
                num_layers=4, feedforward_dim=1024, hidden_dim=128),
    route='image',
    train_route='router',
    domain_loss_weight=100.0,
    align_corners=True,
    loss_decode=dict(
        type='ZoeSILogLoss', beta=0.15, min_depth=1e-3, max_depth=80.0,
        loss_weight=1.0))
