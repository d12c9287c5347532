# Runtime shared by every mmzoe config.
default_scope = 'mmzoe'
custom_imports = dict(imports=['mmzoe'], allow_failed_imports=False)
# MMSegmentation's own tools/train.py builds this runner too (``_scope_``:
# found from MMEngine's root registry): it applies env_cfg.cpu_runtime.
runner_type = 'ZoeRunner'
_scope_ = 'mmzoe'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on CUDA machines; mmzoe's tools switch to gloo (and DDP without
    # device_ids) when no GPU is present.
    dist_cfg=dict(backend='nccl'),
    # CPU speed (mmzoe.utils.cpu_runtime, applied by ZoeRunner and
    # init_model on CPU runs only; also the default when the key is absent):
    # glibc keeps freed activation memory instead of faulting it in again
    # every step (~1/3 of a CPU training step), denormals are flushed to
    # zero. malloc='release' for the smallest resident memory, None for
    # glibc's and the CPU's defaults, on_gpu=True to apply it on GPU runs.
    cpu_runtime=dict(malloc='reuse', flush_denormal=True),
)
vis_backends = [dict(type='LocalVisBackend')]
# Depth panels with a fixed metric colour range (mmseg's visualizer
# normalises each map by its own min/max).
visualizer = dict(
    type='ZoeDepthVisualizer', vmax=10, vis_backends=vis_backends,
    name='visualizer')
# The panels (RGB | relative depth | GT | prediction of the first validation
# images) are drawn by this visualizer, fed by ZoeDepthPanelHook, the
# `default_hooks.visualization` of the schedules (and of the eval configs).
# A NaN/inf gradient or loss skips the optimizer step (logged with its
# iteration); more than max_skipped_steps in a row stop the run (exit 1),
# keeping the checkpoints written so far (mmzoe.engine.hooks).
custom_hooks = [
    dict(type='ZoeDivergenceHook', max_skipped_steps=3),
]
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=43)  # upstream ZoeDepth's seed
