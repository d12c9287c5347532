"""Convert a Depth Anything V1 metric checkpoint to a full mmzoe model.

Usage::

    python tools/model_converters/depth_anything_metric_to_mmzoe.py \
        depth_anything_metric_depth_indoor.pt \
        checkpoints/da1_metric_indoor-mmzoe.pth

The released files are ZoeDepth checkpoints (``{"model": state_dict}``) with
the Depth Anything ViT-L model under ``core.core.`` and the metric-bins head
at the top. The output (``backbone.*``, ``neck.*``, ``decode_head.*``) loads
with ``strict=True`` into
``configs/depth_anything/zoedepth_da1-vitl_metric-{indoor,outdoor}_*.py``.
Dropped upstream tensors are printed with the reason; any other key that
cannot be placed stops the conversion with its name.
"""
import argparse
import sys

from mmzoe.models.utils.ckpt_convert import (
    convert_checkpoint_file, convert_depth_anything_metric_keys,
    depth_anything_dropped_keys)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert Depth Anything V1 metric (ZoeDepth layout) '
        'weights to mmzoe keys.')
    parser.add_argument('src', help='Depth Anything metric checkpoint (.pt)')
    parser.add_argument('dst', help='output file (.pth)')
    return parser.parse_args(argv)


def _convert(state_dict):
    out = convert_depth_anything_metric_keys(state_dict)
    for key, why in depth_anything_dropped_keys(state_dict,
                                                'core.core.').items():
        print(f'dropped {key}: {why}')
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    return convert_checkpoint_file(args.src, args.dst, _convert,
                                   'depth_anything_metric_to_mmzoe')


if __name__ == '__main__':
    sys.exit(main())
