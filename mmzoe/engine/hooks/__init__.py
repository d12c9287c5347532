from .depth_panel_hook import ZoeDepthPanelHook
from .divergence_hook import ZoeDivergenceHook
from .inference_precision_hook import ZoeInferencePrecisionHook
from .zoe_checkpoint_hook import ZoeCheckpointHook

__all__ = [
    'ZoeDepthPanelHook', 'ZoeCheckpointHook', 'ZoeDivergenceHook',
    'ZoeInferencePrecisionHook'
]
