"""Convert a MiDaS v3.1 DPT-SwinV2 / DPT-BEiT checkpoint to an mmzoe core.

Usage::

    python tools/model_converters/midas_to_mmzoe.py \
        dpt_swin2_base_384.pt checkpoints/midas_swin2b_core.pth

The output holds ``backbone.*`` and ``neck.*`` tensors (timm 1.x layout) and
is used as ``model.core_checkpoint`` of ``ZoeDepthEstimator``.
"""
import argparse
import sys

from mmzoe.models.utils.ckpt_convert import (convert_checkpoint_file,
                                             convert_midas_any_keys)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert MiDaS dpt_swin2_* / dpt_beit_* weights to '
        'mmzoe keys.')
    parser.add_argument('src', help='MiDaS checkpoint (.pt)')
    parser.add_argument('dst', help='output file (.pth)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return convert_checkpoint_file(args.src, args.dst, convert_midas_any_keys,
                                   'midas_to_mmzoe')


if __name__ == '__main__':
    sys.exit(main())
