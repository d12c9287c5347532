from .zoe_data_preprocessor import ZoeDepthDataPreProcessor

__all__ = ['ZoeDepthDataPreProcessor']
