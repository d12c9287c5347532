from .zoe_depth_metric import ZoeDepthMetric

__all__ = ['ZoeDepthMetric']
