from .zoe_depth_metric import EmptyEvaluationError, ZoeDepthMetric

__all__ = ['ZoeDepthMetric', 'EmptyEvaluationError']
