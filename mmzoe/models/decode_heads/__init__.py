from .relative_depth_head import ZoeRelativeDepthHead
from .unet_seg_head import ZoeUNetSegHead
from .zoe_depth_head import ZoeDepthHead

__all__ = ['ZoeRelativeDepthHead', 'ZoeUNetSegHead', 'ZoeDepthHead']
