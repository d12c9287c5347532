"""16-bit PNG depth files in millimetres (the NYU / KITTI-style convention).

A pixel value ``v`` means ``v / scale`` metres (``scale = 1000``: millimetres);
``0`` means invalid / missing. Depths are rounded to the nearest unit and
clipped to 65535 units (65.535 m at millimetre scale). Reading is
:func:`mmzoe.datasets.utils.read_depth_png` (re-exported here), the one depth
reader of the package.
"""
import os
import os.path as osp
from typing import Union

import cv2
import numpy as np

from mmzoe.datasets.utils.image_io import read_depth_png

__all__ = ['depth_to_uint16', 'write_depth_png', 'read_depth_png']

PathLike = Union[str, os.PathLike]


def depth_to_uint16(depth: np.ndarray, scale: float = 1000.0) -> np.ndarray:
    """Encode metric depth as uint16 (0 = invalid).

    Non-finite and non-positive depths become 0. Positive depths are rounded
    to the nearest unit (``round(depth * scale)``) and clipped to
    ``[1, 65535]``, so a valid pixel never turns into the invalid value 0 (a
    depth below half a unit is stored as 1 unit).

    Args:
        depth (np.ndarray): HxW depth in metres.
        scale (float): Units per metre. Defaults to 1000 (millimetres).

    Returns:
        np.ndarray: HxW uint16 array.
    """
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim != 2:
        raise ValueError(
            f'depth must be an HxW array, got shape {depth.shape}.')
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(depth) & (depth > 0)
    units = np.rint(np.where(valid, depth, 0.0) * scale)
    units = np.clip(units, 1, 65535)
    return np.where(valid, units, 0).astype(np.uint16)


def write_depth_png(path: PathLike,
                    depth: np.ndarray,
                    scale: float = 1000.0) -> None:
    """Write metric depth as a uint16 PNG (default millimetres, 0 = invalid).

    Args:
        path (str | PathLike): Output ``.png`` file; its folder is created.
        depth (np.ndarray): HxW depth in metres.
        scale (float): Units per metre. Defaults to 1000 (millimetres).
    """
    path = os.fspath(path)
    if not path.lower().endswith('.png'):
        raise ValueError(f'{path}: a 16-bit depth map must be saved as .png.')
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if not cv2.imwrite(path, depth_to_uint16(depth, scale)):
        raise OSError(f'{path}: could not write the depth PNG.')
