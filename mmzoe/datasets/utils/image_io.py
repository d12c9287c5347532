"""Loading helpers: RGB images, 16-bit depth PNGs with a scale, label PNGs.

All readers go through :func:`mmengine.fileio.get` (so file back-ends work)
and raise errors that name the file.
"""
import os.path as osp
from typing import Optional

import mmcv
import numpy as np
from mmengine import fileio


def _get_bytes(path: str, what: str,
               backend_args: Optional[dict] = None) -> bytes:
    try:
        return fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'{path}: {what} file not found') from e
    except OSError as e:
        raise OSError(f'{path}: cannot read {what} file: {e}') from e


def _decode(data: bytes, path: str, what: str, flag: str) -> np.ndarray:
    try:
        arr = mmcv.imfrombytes(data, flag=flag, channel_order='rgb',
                               backend='cv2')
    except Exception as e:  # cv2 raises various errors on garbage
        raise ValueError(f'{path}: cannot decode {what} image: {e}') from e
    if arr is None:
        raise ValueError(f'{path}: cannot decode {what} image (corrupt or '
                         'not an image file)')
    return arr


def read_rgb(path: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """Read an image file as HxWx3 uint8 **RGB**.

    Args:
        path (str): image path.
        backend_args (dict, optional): mmengine file back-end arguments.
    """
    img = _decode(_get_bytes(path, 'RGB', backend_args), path, 'RGB',
                  'color')
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'{path}: expected an 8-bit colour image, got '
                         f'shape {img.shape} dtype {img.dtype}')
    return np.ascontiguousarray(img)


def read_depth_png(path: str,
                   scale: float = 1000.0,
                   backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a single-channel 16-bit (or 8-bit) depth PNG as metres.

    ``metres = value / scale``; 0 stays 0 (= missing).

    Args:
        path (str): depth PNG path.
        scale (float): stored units per metre (1000 for millimetres).
            Defaults to 1000.
        backend_args (dict, optional): mmengine file back-end arguments.

    Returns:
        np.ndarray: HxW float32 depth in metres.
    """
    if scale <= 0:
        raise ValueError(f'depth scale must be > 0, got {scale}')
    arr = _decode(_get_bytes(path, 'depth', backend_args), path, 'depth',
                  'unchanged')
    if arr.ndim != 2:
        raise ValueError(f'{path}: depth PNG must have one channel, got '
                         f'shape {arr.shape}')
    if arr.dtype not in (np.uint16, np.uint8):
        raise ValueError(f'{path}: depth PNG must be uint16 (or uint8), got '
                         f'{arr.dtype}')
    return (arr.astype(np.float32) / np.float32(scale)).astype(np.float32)


def read_label_png(path: str,
                   backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a single-channel uint8 label PNG (class ids, 255 = ignore)."""
    arr = _decode(_get_bytes(path, 'label', backend_args), path, 'label',
                  'unchanged')
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise ValueError(f'{path}: label PNG must be single-channel uint8, '
                         f'got shape {arr.shape} dtype {arr.dtype}')
    return arr


def read_mask_png(path: str,
                  backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a single-channel mask PNG (any integer depth); non-zero = set."""
    arr = _decode(_get_bytes(path, 'mask', backend_args), path, 'mask',
                  'unchanged')
    if arr.ndim != 2:
        raise ValueError(f'{path}: mask PNG must have one channel, got '
                         f'shape {arr.shape}')
    return arr != 0


def join_root(root: Optional[str], path: str) -> str:
    """Join ``root`` and ``path``, ignoring leading slashes of ``path``
    (BTS file lists write ``/scene/rgb_00000.jpg``)."""
    if not root:
        return path
    return osp.join(root, path.lstrip('/'))
