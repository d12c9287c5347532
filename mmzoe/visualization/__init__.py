"""Depth visualisation and export: colour maps, panels, PLY, 16-bit PNG."""
from .colorbar import add_colorbar, nice_ticks
from .depth_colormap import (colorize_depth, colorize_relative,
                             get_colormap_lut, valid_depth_mask)
from .depth_io import depth_to_uint16, read_depth_png, write_depth_png
from .depth_visualizer import ZoeDepthVisualizer
from .panel import add_title, colorize_labels, make_depth_panel
from .pointcloud import (NYU_INTRINSICS, depth_to_points, save_depth_as_ply,
                         write_ply)

__all__ = [
    'add_colorbar', 'nice_ticks', 'colorize_depth', 'colorize_relative',
    'get_colormap_lut', 'valid_depth_mask', 'depth_to_uint16',
    'read_depth_png', 'write_depth_png', 'add_title', 'colorize_labels',
    'make_depth_panel',
    'NYU_INTRINSICS', 'depth_to_points', 'save_depth_as_ply', 'write_ply',
    'ZoeDepthVisualizer'
]
