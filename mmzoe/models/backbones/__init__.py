from .zoe_swinv2 import ZoeSwinV2, register_swinv2_attention
from .swinv2_fused_attention import ZoeSwinV2FusedAttention  # noqa: I001
from .zoe_timm_backbone import ZoeTimmBackbone  # noqa: I001
from .zoe_dinov2 import ZoeDINOv2  # noqa: I001

__all__ = [
    'ZoeSwinV2', 'register_swinv2_attention', 'ZoeSwinV2FusedAttention',
    'ZoeTimmBackbone', 'ZoeDINOv2'
]
