# Runtime shared by every mmzoe config.
default_scope = 'mmzoe'
custom_imports = dict(imports=['mmzoe'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on CUDA machines; mmzoe's tools switch to gloo (and DDP without
    # device_ids) when no GPU is present.
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=43)  # upstream ZoeDepth's seed
