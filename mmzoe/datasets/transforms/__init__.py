from .geometric import (ZoeRandomCrop, ZoeRandomFlip, ZoeRandomRotate,
                        ZoeResize)
from .loading import ZoeLoadImage
from .photometric import ZoeColorAug

__all__ = [
    'ZoeRandomCrop', 'ZoeRandomFlip', 'ZoeRandomRotate', 'ZoeResize',
    'ZoeColorAug', 'ZoeLoadImage'
]
