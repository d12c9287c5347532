from .beit_attention import ZoeBEiTAttention
from .swinv2_fused_attention import ZoeSwinV2FusedAttention
from .zoe_beit import ZoeBEiT
from .zoe_dinov2 import ZoeDINOv2
from .zoe_swinv2 import ATTENTION_ALIASES, ZoeSwinV2, swinv2_attention_class
from .zoe_timm_backbone import ZoeTimmBackbone

__all__ = [
    'ZoeSwinV2', 'ATTENTION_ALIASES', 'swinv2_attention_class',
    'ZoeSwinV2FusedAttention', 'ZoeTimmBackbone', 'ZoeBEiTAttention',
    'ZoeBEiT', 'ZoeDINOv2'
]
