from .one_cycle import ZoeOneCycleLR, ZoeOneCycleMomentum

__all__ = ['ZoeOneCycleLR', 'ZoeOneCycleMomentum']
