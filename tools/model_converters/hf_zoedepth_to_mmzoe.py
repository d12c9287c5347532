"""Convert a Hugging Face transformers ZoeDepth folder to mmzoe.

Usage::

    python tools/model_converters/hf_zoedepth_to_mmzoe.py \
        zoedepth-nyu/ checkpoints/zoedepth-nyu-mmzoe.pth

``zoedepth-nyu/`` is a local ``ZoeDepthForDepthEstimation`` folder (e.g. a
download of ``Intel/zoedepth-nyu``): ``config.json`` plus
``model.safetensors`` (read with ``safetensors``) or ``pytorch_model.bin``
(read with ``torch.load(weights_only=True)``). Nothing is downloaded.

Writes the checkpoint and, next to it (``--out-config`` to choose), a config
that holds only what differs from ``configs/zoedepth/zoedepth_beitl384_nyu.py``
(the ZoeD_M12_N inference config), e.g. ``backbone.norm_eps=1e-12``:
transformers' BEiT normalises with eps 1e-12 where upstream's timm uses 1e-6.
Use both with ``mmzoe.apis.init_model`` / ``tools/infer.py``.

Single-head models (ZoeD_N, ZoeD_K layout) get the ZoeD_M12_N config as
base, ZoeD_NK (two bin configurations and the router) the ZoeD_M12_NK model
config ``configs/_base_/models/zoedepth_nk_beitl384.py``. Keys that cannot be
placed stop the conversion with their names.
Exit status 0 on success, 2 on bad input (one line naming the file).
"""
import argparse
import json
import os
import os.path as osp
import pprint
import sys
from typing import Dict, Mapping

import torch

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE_CONFIG = osp.join(_REPO, 'configs', 'zoedepth',
                       'zoedepth_beitl384_nyu.py')
NK_BASE_CONFIG = osp.join(_REPO, 'configs', '_base_', 'models',
                          'zoedepth_nk_beitl384.py')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a transformers ZoeDepth folder to mmzoe.')
    parser.add_argument('src', help='folder with config.json and '
                        'model.safetensors or pytorch_model.bin')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument(
        '--out-config', default=None,
        help='output config (default: DST without extension + "_config.py")')
    return parser.parse_args(argv)


def load_hf_folder(folder: str):
    """Read ``config.json`` and the weights of a transformers folder.

    Args:
        folder (str): The model folder.

    Returns:
        tuple[dict, dict[str, Tensor]]: Parsed config and tensors.

    Raises:
        FileNotFoundError, ValueError: One line naming the file.
    """
    cfg_path = osp.join(folder, 'config.json')
    if not osp.isfile(cfg_path):
        raise FileNotFoundError(f'{cfg_path}: not found (expected a '
                                'transformers ZoeDepth folder)')
    try:
        with open(cfg_path) as f:
            config = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f'{cfg_path}: not valid JSON: {e}') from None
    st_path = osp.join(folder, 'model.safetensors')
    bin_path = osp.join(folder, 'pytorch_model.bin')
    if osp.isfile(st_path):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise ValueError(f'{st_path}: reading it needs the "safetensors" '
                             'package (pip install safetensors)') from None
        try:
            tensors = load_file(st_path, device='cpu')
        except Exception as e:  # noqa: BLE001 (re-raised with the file)
            raise ValueError(f'{st_path}: not a readable safetensors file: '
                             f'{e}') from None
    elif osp.isfile(bin_path):
        try:
            tensors = torch.load(bin_path, map_location='cpu',
                                 weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f'{bin_path}: could not be read with '
                             f'weights_only=True: {e}') from None
    else:
        raise FileNotFoundError(f'{folder}: neither model.safetensors nor '
                                'pytorch_model.bin found')
    return config, tensors


def _diff(new: Mapping, old: Mapping) -> Dict:
    """Entries of ``new`` whose values differ from ``old`` (recursively)."""
    out = {}
    for key, value in new.items():
        ref = old.get(key) if isinstance(old, Mapping) else None
        if isinstance(value, Mapping) and isinstance(ref, Mapping):
            sub = _diff(value, ref)
            if sub:
                out[key] = sub
        elif isinstance(value, (list, tuple)) and isinstance(
                ref, (list, tuple)) and list(value) == list(ref):
            continue
        elif value != ref:
            out[key] = value
    return out


def config_text(overrides: Mapping, base_config: str = BASE_CONFIG) -> str:
    """A config file inheriting ``base_config`` with the differing values."""
    from mmengine.config import Config
    base = Config.fromfile(base_config).model.to_dict()
    delta = _diff(overrides, base)
    lines = [
        '# Written by tools/model_converters/hf_zoedepth_to_mmzoe.py: the',
        f'# config {osp.relpath(base_config, _REPO)} with what differs',
        '# for this transformers ZoeDepth model.',
        f'_base_ = [{base_config!r}]',
    ]
    if delta:
        lines.append('model = ' + pprint.pformat(delta, indent=4,
                                                 sort_dicts=True))
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmzoe.models.utils.ckpt_convert import (
        convert_hf_zoedepth_keys, convert_hf_zoedepth_nk_keys,
        hf_zoedepth_config_overrides, hf_zoedepth_nk_config_overrides,
        save_converted_checkpoint)
    try:
        hf_config, tensors = load_hf_folder(args.src)
        nk = len(hf_config.get('bin_configurations') or []) > 1
        if nk:  # ZoeD_NK: router and one head per bin configuration
            base_config = NK_BASE_CONFIG
            overrides = hf_zoedepth_nk_config_overrides(hf_config)
            state_dict = convert_hf_zoedepth_nk_keys(tensors)
        else:
            base_config = BASE_CONFIG
            overrides = hf_zoedepth_config_overrides(hf_config)
            state_dict = convert_hf_zoedepth_keys(
                tensors, n_bins=overrides['decode_head']['n_bins'])
    except (FileNotFoundError, ValueError, KeyError, TypeError) as e:
        # (KeyError covers CheckpointConversionError)
        print(f'error: {args.src}: {e}', file=sys.stderr)
        return 2
    out_config = args.out_config or osp.splitext(args.dst)[0] + '_config.py'
    if osp.dirname(out_config):
        os.makedirs(osp.dirname(out_config), exist_ok=True)
    save_converted_checkpoint(state_dict, args.dst,
                              osp.basename(osp.normpath(args.src)),
                              'hf_zoedepth_to_mmzoe')
    with open(out_config, 'w') as f:
        f.write(config_text(overrides, base_config))
    print(f'Saved {len(state_dict)} tensors to {args.dst}')
    print(f'Config: {out_config} (base: '
          f'{osp.relpath(base_config, _REPO)})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
