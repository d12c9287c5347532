from .depth_panel_hook import ZoeDepthPanelHook
from .divergence_hook import ZoeDivergenceHook

__all__ = ['ZoeDepthPanelHook', 'ZoeDivergenceHook']
