"""Inference API: build a model from a config + checkpoint, predict depth."""
from .image_io import ImageLoadError, check_rgb_array, load_rgb_image
from .inference import inference_depth, init_model
from .onnx_export import export_onnx, plain_export_options
from .onnx_predictor import OnnxDepthPredictor

__all__ = [
    'init_model', 'inference_depth', 'load_rgb_image', 'check_rgb_array',
    'ImageLoadError', 'OnnxDepthPredictor', 'export_onnx',
    'plain_export_options'
]
