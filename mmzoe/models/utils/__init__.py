from .ckpt_convert import (DEPTH_ANYTHING_DROPPED_KEYS,
                           CheckpointConversionError, check_against_model_keys,
                           convert_depth_anything_keys,
                           convert_depth_anything_metric_keys,
                           convert_midas_keys, convert_swinv2_timm06_keys,
                           convert_zoedepth_head_keys, convert_zoedepth_keys,
                           depth_anything_dropped_keys, load_state_dict_file,
                           unwrap_state_dict)
from .core_output import ZoeCoreOutput
from .dispatch import plain_ops_required
from .inference_precision import (PRECISIONS, cast_floating,
                                  set_inference_precision)
from .memory_format import channels_last_copy, nchw_copy
from .perturb import perturb_weights
from .row_bands import padded_rows
from .toeplitz_bias import (is_toeplitz_index, toeplitz_bias,
                            toeplitz_gather, toeplitz_index,
                            toeplitz_table_grad)
from .winograd_conv import (winograd_applies, winograd_available,
                            winograd_conv2d, winograd_enabled,
                            winograd_may_apply, winograd_width_pays)
from .winograd_wgrad import winograd_weight_grad

__all__ = [
    'CheckpointConversionError', 'check_against_model_keys',
    'convert_midas_keys', 'convert_swinv2_timm06_keys',
    'convert_zoedepth_head_keys', 'convert_zoedepth_keys',
    'load_state_dict_file', 'unwrap_state_dict', 'ZoeCoreOutput',
    'perturb_weights', 'PRECISIONS', 'cast_floating',
    'set_inference_precision',
    'DEPTH_ANYTHING_DROPPED_KEYS', 'convert_depth_anything_keys',
    'convert_depth_anything_metric_keys', 'depth_anything_dropped_keys',
    'winograd_applies', 'winograd_available', 'winograd_conv2d',
    'winograd_enabled', 'winograd_may_apply', 'winograd_width_pays',
    'winograd_weight_grad', 'is_toeplitz_index', 'toeplitz_bias',
    'toeplitz_gather', 'toeplitz_index', 'toeplitz_table_grad',
    'channels_last_copy', 'nchw_copy', 'padded_rows', 'plain_ops_required'
]
