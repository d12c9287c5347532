from .relative_head import ZoeRelativeDepthHead
from .vit_reassemble import ZoeViTReassemble
from .zoe_dpt_neck import ZoeDPTNeck

__all__ = ['ZoeRelativeDepthHead', 'ZoeViTReassemble', 'ZoeDPTNeck']
