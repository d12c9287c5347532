"""Convert a MiDaS v3.1 DPT-SwinV2 / DPT-BEiT checkpoint to an mmzoe core.

Usage::

    python tools/model_converters/midas_to_mmzoe.py \
        dpt_swin2_base_384.pt checkpoints/midas_dpt_swin2_base_384-mmzoe.pth

The output holds ``backbone.*`` and ``neck.*`` tensors (timm 1.x layout) and
is used as ``model.core_checkpoint`` of ``ZoeDepthEstimator``.
"""
import sys

from mmzoe.models.utils.ckpt_convert import (convert_midas_any_keys,
                                             converter_main)


def main(argv=None) -> int:
    return converter_main(
        argv, convert_midas_any_keys, 'midas_to_mmzoe',
        description='Convert MiDaS dpt_swin2_* / dpt_beit_* weights to '
        'mmzoe keys.',
        src_help='MiDaS checkpoint (.pt)')


if __name__ == '__main__':
    sys.exit(main())
