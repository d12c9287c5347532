"""Prepare a trained mmzoe checkpoint for release.

Usage::

    python tools/publish_model.py work_dirs/run/best.pth zoedepth_nyu.pth
    # -> zoedepth_nyu-<first 8 hex of sha256>.pth

The published file holds only ``state_dict`` and a small ``meta``: optimizer,
parameter-scheduler and message-hub state (and everything else MMEngine stores)
are dropped, as are, unless ``--keep-aux``, all ``auxiliary_head.*`` weights
(the training-only segmentation branch: inference never runs it). The result
loads with ``torch.load(..., weights_only=True)`` without any allow-list, and
into a model config without an auxiliary head with ``strict=True``.

The input is read with ``weights_only=True`` after ``import mmzoe`` (which
allow-lists the types MMEngine pickles into checkpoints); ``--unsafe-load``
falls back to full unpickling for inputs you trust that still fail.
"""
import argparse
import hashlib
import os
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, Optional

import torch

AUX_PREFIX = 'auxiliary_head.'
BLOCK_SIZE = 1 << 20


def sha256sum(path: str) -> str:
    """Return the hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(BLOCK_SIZE), b''):
            digest.update(block)
    return digest.hexdigest()


def load_checkpoint_file(path: str, unsafe: bool = False) -> Dict[str, Any]:
    """Load a checkpoint dict on the CPU, ``weights_only=True`` if possible.

    Args:
        path (str): Checkpoint file.
        unsafe (bool): Fall back to ``weights_only=False`` (arbitrary code
            execution: trusted files only). Defaults to False.

    Returns:
        dict: The loaded object.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        RuntimeError: If the file cannot be read safely and ``unsafe`` is off.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        import mmzoe  # noqa: F401  (registers checkpoint safe globals)
    except ImportError:
        pass
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # UnpicklingError or a corrupt file
        if not unsafe:
            raise RuntimeError(
                f'{path}: cannot be loaded with weights_only=True ({err}). '
                'If you trust this file, rerun with --unsafe-load.') from err
    return torch.load(path, map_location='cpu', weights_only=False)


def _plain(value: Any) -> Optional[Any]:
    """Return ``value`` if it is built from plain Python types, else None."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        if any(i is None and v is not None for i, v in zip(items, value)):
            return None
        return items
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            pv = _plain(v)
            if not isinstance(k, str) or (pv is None and v is not None):
                return None
            out[k] = pv
        return out
    return None


def strip_checkpoint(checkpoint: Dict[str, Any],
                     keep_aux: bool = False) -> Dict[str, Any]:
    """Reduce a training checkpoint to ``state_dict`` + minimal ``meta``.

    Args:
        checkpoint (dict): An MMEngine checkpoint (with ``state_dict``) or a
            bare state dict.
        keep_aux (bool): Keep ``auxiliary_head.*`` weights. Defaults to False.

    Returns:
        dict: ``dict(meta=..., state_dict=...)``; ``meta`` keeps ``epoch``,
        ``iter``, ``dataset_meta`` (if plain data), the library versions and
        whether the auxiliary head was stripped.

    Raises:
        ValueError: If no state dict of tensors is found.
    """
    if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
        state_dict = checkpoint['state_dict']
        meta = checkpoint.get('meta') or {}
    else:
        state_dict, meta = checkpoint, {}
    if not isinstance(state_dict, dict) or not state_dict or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError('no state_dict of tensors found in the checkpoint')
    new_sd = OrderedDict()
    for key, value in state_dict.items():
        if not keep_aux and key.startswith(AUX_PREFIX):
            continue
        # detach from any shared storage of the training state
        new_sd[key] = value.detach().clone().cpu()
    new_meta: Dict[str, Any] = {}
    for key in ('epoch', 'iter', 'dataset_meta', 'mmengine_version',
                'mmseg_version'):
        value = _plain(meta.get(key)) if isinstance(meta, dict) else None
        if value is not None:
            new_meta[key] = value
    try:
        from mmzoe import __version__ as mmzoe_version
        new_meta['mmzoe_version'] = mmzoe_version
    except ImportError:
        pass
    new_meta['auxiliary_head_stripped'] = not keep_aux
    return dict(meta=new_meta, state_dict=new_sd)


def publish_checkpoint(in_file: str,
                       out_file: str,
                       keep_aux: bool = False,
                       unsafe: bool = False) -> str:
    """Strip ``in_file``, save it and rename to ``<stem>-<sha8>.pth``.

    Args:
        in_file (str): Training checkpoint.
        out_file (str): Output path; ``.pth`` is appended if missing.
        keep_aux (bool): Keep ``auxiliary_head.*`` weights.
        unsafe (bool): Allow full unpickling of the input (trusted files).

    Returns:
        str: Path of the published file.
    """
    checkpoint = load_checkpoint_file(in_file, unsafe=unsafe)
    published = strip_checkpoint(checkpoint, keep_aux=keep_aux)
    stem = out_file[:-4] if out_file.endswith('.pth') else out_file
    out_dir = osp.dirname(osp.abspath(stem))
    os.makedirs(out_dir, exist_ok=True)
    tmp_file = stem + '.pth.tmp'
    torch.save(published, tmp_file)
    # the published file must be loadable without any allow-list
    torch.load(tmp_file, map_location='cpu', weights_only=True)
    final_file = f'{stem}-{sha256sum(tmp_file)[:8]}.pth'
    os.replace(tmp_file, final_file)
    return final_file


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Strip a trained mmzoe checkpoint for release')
    parser.add_argument('in_file', help='input checkpoint')
    parser.add_argument(
        'out_file', help='output name; the sha256 prefix is appended')
    parser.add_argument(
        '--keep-aux',
        action='store_true',
        help='keep the auxiliary (segmentation) head weights')
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='load the input with weights_only=False if the safe load fails '
        '(only for files you trust)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    final_file = publish_checkpoint(
        args.in_file, args.out_file, keep_aux=args.keep_aux,
        unsafe=args.unsafe_load)
    ckpt = torch.load(final_file, map_location='cpu', weights_only=True)
    n_params = sum(v.numel() for v in ckpt['state_dict'].values())
    print(f'published {final_file}: {len(ckpt["state_dict"])} tensors, '
          f'{n_params / 1e6:.2f} M values, auxiliary head '
          f'{"kept" if args.keep_aux else "stripped"}')


if __name__ == '__main__':
    main()
