"""Convert an upstream ZoeDepth (SwinV2 core) checkpoint to mmzoe.

Usage::

    python tools/model_converters/zoedepth_to_mmzoe.py \
        ZoeD_M12_N_swin2b.pt checkpoints/zoedepth_swin2b_nyu.pth

Accepts ``{"model": state_dict, ...}`` or a bare state dict, with or without
a DDP ``module.`` prefix. The output (``backbone.*``, ``neck.*``,
``decode_head.*``) loads with ``strict=True`` into
``configs/_base_/models/zoedepth_swin2b.py`` and works as ``load_from``.
"""
import argparse
import os
import os.path as osp
import sys

import torch

from mmzoe.models.utils.ckpt_convert import (CheckpointConversionError,
                                             convert_zoedepth_keys,
                                             load_state_dict_file)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert ZoeDepth (SwinV2 core) weights to mmzoe keys.')
    parser.add_argument('src', help='ZoeDepth checkpoint (.pt)')
    parser.add_argument('dst', help='output file (.pth)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        state_dict = convert_zoedepth_keys(load_state_dict_file(args.src))
    except (FileNotFoundError, CheckpointConversionError, RuntimeError,
            TypeError) as e:
        print(f'error: {args.src}: {e}', file=sys.stderr)
        return 1
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(source=osp.basename(args.src),
                      converter='zoedepth_to_mmzoe')), args.dst)
    print(f'Saved {len(state_dict)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
