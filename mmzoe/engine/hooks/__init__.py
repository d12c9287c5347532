from .depth_panel_hook import ZoeDepthPanelHook

__all__ = ['ZoeDepthPanelHook']
