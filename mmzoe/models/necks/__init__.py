from .vit_reassemble import ZoeViTReassemble
from .zoe_dpt_neck import ZoeDPTNeck

__all__ = ['ZoeViTReassemble', 'ZoeDPTNeck']
