"""Convert a Depth Anything relative checkpoint (V1 or V2) to an mmzoe core.

Usage::

    python tools/model_converters/depth_anything_to_mmzoe.py \
        depth_anything_v2_vits.pth checkpoints/da2_vits_core-mmzoe.pth

Works for ``depth_anything_v2_vit{s,b,l}.pth`` and
``depth_anything_vit{s,b,l}14.pth`` (same key layout). The output holds
``backbone.*`` (``ZoeDINOv2``) and ``neck.*`` (reassemble stage, DPT
decoder, relative head) and is the ``model.core_checkpoint`` of the
``configs/depth_anything/`` configs (V2 and V1 read different encoder
blocks: use the config of the version the file comes from). Dropped upstream
tensors are printed with the reason; any other key that cannot be placed
stops the conversion with its name.
"""
import sys

from mmzoe.models.utils.ckpt_convert import (convert_depth_anything_keys,
                                             converter_main,
                                             depth_anything_dropped_keys)


def main(argv=None) -> int:
    return converter_main(
        argv, convert_depth_anything_keys, 'depth_anything_to_mmzoe',
        description='Convert Depth Anything (V1/V2) relative weights to '
        'mmzoe core keys.',
        src_help='Depth Anything checkpoint (.pth)',
        dropped=depth_anything_dropped_keys)


if __name__ == '__main__':
    sys.exit(main())
