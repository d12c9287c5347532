from .relative_depth_head import ZoeRelativeDepthHead
from .unet_seg_head import ZoeUNetSegHead
from .zoe_depth_head import ZoeDepthHead
from .zoe_depth_nk_head import ZoeDepthNKHead

__all__ = [
    'ZoeRelativeDepthHead', 'ZoeUNetSegHead', 'ZoeDepthHead', 'ZoeDepthNKHead'
]
