from .domain import ZoeSetDomain
from .geometric import ZoeRandomRotate, ZoeResize
from .kb_crop import ZoeKBCrop
from .loading import ZoeLoadImage
from .photometric import ZoeColorAug

__all__ = [
    'ZoeRandomRotate', 'ZoeResize', 'ZoeColorAug', 'ZoeLoadImage',
    'ZoeKBCrop', 'ZoeSetDomain'
]
