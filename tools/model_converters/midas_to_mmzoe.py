"""Convert a MiDaS v3.1 DPT-SwinV2 checkpoint to an mmzoe core checkpoint.

Usage::

    python tools/model_converters/midas_to_mmzoe.py \
        dpt_swin2_base_384.pt checkpoints/midas_swin2b_core.pth

The output holds ``backbone.*`` and ``neck.*`` tensors (timm 1.x layout) and
is used as ``model.core_checkpoint`` of ``ZoeDepthEstimator``.
"""
import argparse
import os
import os.path as osp
import sys

import torch

from mmzoe.models.utils.ckpt_convert import (CheckpointConversionError,
                                             convert_midas_keys,
                                             load_state_dict_file)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert MiDaS dpt_swin2_* weights to mmzoe keys.')
    parser.add_argument('src', help='MiDaS checkpoint (.pt)')
    parser.add_argument('dst', help='output file (.pth)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        state_dict = convert_midas_keys(load_state_dict_file(args.src))
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
                      converter='midas_to_mmzoe')), args.dst)
    print(f'Saved {len(state_dict)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
