from .zoe_depth_estimator import ZoeDepthEstimator
from .zoe_depth_nk_estimator import ZoeDepthNKEstimator

__all__ = ['ZoeDepthEstimator', 'ZoeDepthNKEstimator']
