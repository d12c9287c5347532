from .geometric import ZoeRandomRotate, ZoeResize
from .loading import ZoeLoadImage
from .photometric import ZoeColorAug

__all__ = ['ZoeRandomRotate', 'ZoeResize', 'ZoeColorAug', 'ZoeLoadImage']
