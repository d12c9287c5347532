"""16-bit PNG depth files in millimetres (the NYU / KITTI-style convention).

A pixel value ``v`` means ``v / scale`` metres (``scale = 1000``: millimetres);
``0`` means invalid / missing. Depths are rounded to the nearest unit and
clipped to 65535 units (65.535 m at millimetre scale).
"""
import os
import os.path as osp
from typing import Union

import cv2
import numpy as np

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


def read_depth_png(path: PathLike, scale: float = 1000.0) -> np.ndarray:
    """Read a uint16 depth PNG into float32 metres (0 stays 0 = invalid).

    Args:
        path (str | PathLike): A single-channel 16-bit PNG file.
        scale (float): Units per metre. Defaults to 1000 (millimetres).

    Returns:
        np.ndarray: HxW float32 depth in metres.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: depth file not found.')
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError(f'{path}: not a readable image file.')
    if raw.ndim != 2:
        raise ValueError(f'{path}: a depth PNG must have one channel, got '
                         f'shape {raw.shape}.')
    if raw.dtype != np.uint16:
        raise ValueError(f'{path}: a depth PNG must be 16-bit (uint16 '
                         f'{1000.0 / scale:g} mm units), got {raw.dtype}.')
    return (raw.astype(np.float64) / scale).astype(np.float32)
