from .ckpt_convert import (CheckpointConversionError, check_against_model_keys,
                           convert_midas_keys, convert_swinv2_timm06_keys,
                           convert_zoedepth_head_keys, convert_zoedepth_keys,
                           load_state_dict_file, unwrap_state_dict)
from .core_output import ZoeCoreOutput

__all__ = [
    'CheckpointConversionError', 'check_against_model_keys',
    'convert_midas_keys', 'convert_swinv2_timm06_keys',
    'convert_zoedepth_head_keys', 'convert_zoedepth_keys',
    'load_state_dict_file', 'unwrap_state_dict', 'ZoeCoreOutput'
]
