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
import sys

from mmzoe.models.utils.ckpt_convert import (
    convert_depth_anything_metric_keys, converter_main,
    depth_anything_dropped_keys)


def main(argv=None) -> int:
    return converter_main(
        argv, convert_depth_anything_metric_keys,
        'depth_anything_metric_to_mmzoe',
        description='Convert Depth Anything V1 metric (ZoeDepth layout) '
        'weights to mmzoe keys.',
        src_help='Depth Anything metric checkpoint (.pt)',
        dropped=lambda sd: depth_anything_dropped_keys(sd, 'core.core.'))


if __name__ == '__main__':
    sys.exit(main())
