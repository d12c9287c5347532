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
import argparse
import sys

from mmzoe.models.utils.ckpt_convert import (convert_checkpoint_file,
                                             convert_zoedepth_any_keys)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert ZoeDepth (N/K/NK, SwinV2 or BEiT core) weights '
        'to mmzoe keys.')
    parser.add_argument('src', help='ZoeDepth checkpoint (.pt)')
    parser.add_argument('dst', help='output file (.pth)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return convert_checkpoint_file(args.src, args.dst,
                                   convert_zoedepth_any_keys,
                                   'zoedepth_to_mmzoe')


if __name__ == '__main__':
    sys.exit(main())
