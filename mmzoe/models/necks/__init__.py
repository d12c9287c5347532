from .relative_head import ZoeRelativeDepthHead
from .zoe_dpt_neck import ZoeDPTNeck

__all__ = ['ZoeRelativeDepthHead', 'ZoeDPTNeck']
