from .zoe_depth_estimator import ZoeDepthEstimator

__all__ = ['ZoeDepthEstimator']
