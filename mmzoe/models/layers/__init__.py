from .dpt_fusion import ZoeFeatureFusionBlock, ZoeResidualConvUnit
from .gelu_linear import ZoeGeluRecomputeMlp, gelu_linear
from .log_binomial import (ConditionalLogBinomial, LogBinomial,
                           log_binomial_coefficient)
from .patch_transformer import (ZoePatchTransformerEncoder,
                                ZoePatchTransformerRouter,
                                sinusoidal_position_code)
from .zoe_bins import (AttractorLayer, AttractorLayerUnnormed, Projector,
                       SeedBinRegressor, SeedBinRegressorUnnormed,
                       exp_attractor, inv_attractor)
from .zoe_conv import ZoeConv2d, convert_to_zoe_conv

__all__ = [
    'ZoeFeatureFusionBlock', 'ZoeResidualConvUnit', 'ConditionalLogBinomial',
    'LogBinomial', 'log_binomial_coefficient', 'AttractorLayer',
    'AttractorLayerUnnormed', 'Projector', 'SeedBinRegressor',
    'SeedBinRegressorUnnormed', 'exp_attractor', 'inv_attractor',
    'ZoePatchTransformerEncoder', 'ZoePatchTransformerRouter',
    'sinusoidal_position_code', 'ZoeConv2d', 'convert_to_zoe_conv',
    'ZoeGeluRecomputeMlp', 'gelu_linear'
]
