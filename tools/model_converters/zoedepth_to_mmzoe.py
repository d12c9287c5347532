"""Convert an upstream ZoeDepth checkpoint (ZoeD_M12_N / _K / _NK layout,
SwinV2 or BEiT core) to mmzoe.

Usage::

    python tools/model_converters/zoedepth_to_mmzoe.py \
        ZoeD_M12_N.pt checkpoints/zoedepth_m12_n-mmzoe.pth

The core is recognised from the keys: a MiDaS BEiT core (the released
checkpoints; ``core.core.pretrained.act_postprocess*`` present) or a SwinV2
core. ZoeD_M12_N loads into ``configs/zoedepth/zoedepth_beitl384_nyu.py``
(and its evaluation configs), a SwinV2-B ZoeDepth into
``configs/_base_/models/zoedepth_swin2b.py``.

Accepts ``{"model": state_dict, ...}`` or a bare state dict, with or without
a DDP ``module.`` prefix. The output (``backbone.*``, ``neck.*``,
``decode_head.*``) loads with ``strict=True`` and works as ``load_from``.
Keys that cannot be placed stop the conversion with their names.
A routed ZoeD_M12_NK state dict (``patch_transformer.*``,
``seed_bin_regressors.<domain>.*``) is recognised by its keys and converted
for ``ZoeDepthNKHead`` (router under ``decode_head.router.``); ZoeD_M12_K
has the single-head layout.
"""
import sys

from mmzoe.models.utils.ckpt_convert import (convert_zoedepth_any_keys,
                                             converter_main)


def main(argv=None) -> int:
    return converter_main(
        argv, convert_zoedepth_any_keys, 'zoedepth_to_mmzoe',
        description='Convert ZoeDepth (N/K/NK, SwinV2 or BEiT core) weights '
        'to mmzoe keys.',
        src_help='ZoeDepth checkpoint (.pt)')


if __name__ == '__main__':
    sys.exit(main())
