from .zoe_swinv2 import ZoeSwinV2, register_swinv2_attention
from .swinv2_fused_attention import ZoeSwinV2FusedAttention  # noqa: I001
from .zoe_timm_backbone import ZoeTimmBackbone  # noqa: I001
from .beit_attention import ZoeBEiTAttention  # noqa: I001
from .zoe_beit import ZoeBEiT  # noqa: I001

__all__ = [
    'ZoeSwinV2', 'register_swinv2_attention', 'ZoeSwinV2FusedAttention',
    'ZoeTimmBackbone', 'ZoeBEiTAttention', 'ZoeBEiT'
]
