from .domain import ZoeSetDomain
from .geometric import (ZoeRandomCrop, ZoeRandomFlip, ZoeRandomRotate,
                        ZoeResize)
from .kb_crop import ZoeKBCrop
from .loading import ZoeLoadImage
from .photometric import ZoeColorAug

__all__ = [
    'ZoeRandomCrop', 'ZoeRandomFlip', 'ZoeRandomRotate', 'ZoeResize',
    'ZoeColorAug', 'ZoeLoadImage', 'ZoeKBCrop', 'ZoeSetDomain'
]
