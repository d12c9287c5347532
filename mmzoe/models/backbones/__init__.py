from .zoe_swinv2 import ZoeSwinV2, register_swinv2_attention

__all__ = ['ZoeSwinV2', 'register_swinv2_attention']
