from .zoe_optim_constructor import ZoeDepthOptimWrapperConstructor

__all__ = ['ZoeDepthOptimWrapperConstructor']
