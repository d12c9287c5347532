"""Colour mapping of depth maps (fixed metric range, invalid pixels black).

Colour look-up tables come from OpenCV (``cv2.COLORMAP_*``, the same tables as
matplotlib's perceptually uniform maps), so no plotting library is needed.
All functions return **RGB** uint8 images.
"""
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

_CV2_COLORMAPS = {
    'inferno': cv2.COLORMAP_INFERNO,
    'magma': cv2.COLORMAP_MAGMA,
    'plasma': cv2.COLORMAP_PLASMA,
    'viridis': cv2.COLORMAP_VIRIDIS,
    'turbo': cv2.COLORMAP_TURBO,
    'jet': cv2.COLORMAP_JET,
    'bone': cv2.COLORMAP_BONE,
}


@lru_cache(maxsize=None)
def get_colormap_lut(cmap: str = 'inferno') -> np.ndarray:
    """Return a colour map as a 256x3 uint8 RGB look-up table.

    Args:
        cmap (str): Colour map name, one of ``inferno``, ``magma``,
            ``plasma``, ``viridis``, ``turbo``, ``jet``, ``bone``; a ``_r``
            suffix reverses it. Defaults to ``'inferno'``.

    Returns:
        np.ndarray: Array of shape (256, 3), dtype uint8, RGB; row 0 is the
        colour of the lowest value. Read-only (it is cached).
    """
    reverse = cmap.endswith('_r')
    base = cmap[:-2] if reverse else cmap
    if base not in _CV2_COLORMAPS:
        raise ValueError(f'Unknown colour map "{cmap}"; available: '
                         f'{sorted(_CV2_COLORMAPS)} (optionally with "_r").')
    ramp = np.arange(256, dtype=np.uint8).reshape(256, 1)
    lut = cv2.applyColorMap(ramp, _CV2_COLORMAPS[base])[:, 0, ::-1]  # RGB
    if reverse:
        lut = lut[::-1]
    lut = np.ascontiguousarray(lut)
    lut.setflags(write=False)
    return lut


def valid_depth_mask(depth: np.ndarray) -> np.ndarray:
    """Pixels holding a usable depth: finite and strictly positive.

    Args:
        depth (np.ndarray): Depth map (any shape).

    Returns:
        np.ndarray: Boolean mask of the same shape.
    """
    depth = np.asarray(depth)
    with np.errstate(invalid='ignore'):
        return np.isfinite(depth) & (depth > 0)


def _check_2d(depth: np.ndarray, what: str) -> np.ndarray:
    depth = np.asarray(depth)
    if depth.ndim == 3 and depth.shape[0] == 1:
        depth = depth[0]
    elif depth.ndim == 3 and depth.shape[-1] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise ValueError(f'{what} must be an HxW array (or 1xHxW / HxWx1), '
                         f'got shape {depth.shape}.')
    return depth.astype(np.float64, copy=False)


def colorize_depth(depth: np.ndarray,
                   vmin: float = 0.0,
                   vmax: float = 10.0,
                   cmap: str = 'inferno',
                   invalid_color: Tuple[int, int, int] = (0, 0, 0),
                   valid_mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Map a metric depth map to colours with a FIXED range.

    Values are clipped to ``[vmin, vmax]`` and mapped linearly onto the 256
    colours, so the same colour means the same distance in every image.
    Pixels that are not finite or not > 0 (the "0 = invalid" convention of
    depth ground truth), or outside ``valid_mask``, get ``invalid_color``.

    Args:
        depth (np.ndarray): HxW depth in metres (1xHxW or HxWx1 accepted).
        vmin (float): Depth shown with the first colour. Defaults to 0.
        vmax (float): Depth shown with the last colour. Defaults to 10 m.
        cmap (str): Colour map name, see :func:`get_colormap_lut`.
        invalid_color (tuple[int]): RGB colour of invalid pixels.
            Defaults to black.
        valid_mask (np.ndarray, optional): Extra HxW boolean mask of pixels
            to colour; the others are drawn as invalid.

    Returns:
        np.ndarray: HxWx3 uint8 RGB image.
    """
    if not vmax > vmin:
        raise ValueError(f'vmax ({vmax}) must be larger than vmin ({vmin}).')
    depth = _check_2d(depth, 'depth')
    valid = valid_depth_mask(depth)
    if valid_mask is not None:
        valid_mask = np.asarray(valid_mask, dtype=bool)
        if valid_mask.shape != depth.shape:
            raise ValueError(f'valid_mask shape {valid_mask.shape} differs '
                             f'from the depth shape {depth.shape}.')
        valid &= valid_mask
    filled = np.where(valid, depth, vmin)
    scaled = (np.clip(filled, vmin, vmax) - vmin) / (vmax - vmin)
    idx = np.rint(scaled * 255).astype(np.uint8)
    out = get_colormap_lut(cmap)[idx]
    out[~valid] = np.asarray(invalid_color, dtype=np.uint8)
    return out


def colorize_relative(rel_depth: np.ndarray,
                      cmap: str = 'inferno',
                      percentiles: Sequence[float] = (1.0, 99.0),
                      invalid_color: Tuple[int, int, int] = (0, 0, 0)
                      ) -> np.ndarray:
    """Map a relative (affine-invariant inverse) depth map to colours.

    Relative depth has no unit, so the range is taken from the image itself:
    the given percentiles of its finite values (robust min-max). With
    MiDaS-style inverse depth, near surfaces are bright.

    Args:
        rel_depth (np.ndarray): HxW relative inverse depth.
        cmap (str): Colour map name. Defaults to ``'inferno'``.
        percentiles (Sequence[float]): Low/high percentiles mapped to the
            first/last colour. Defaults to (1, 99).
        invalid_color (tuple[int]): RGB colour of non-finite pixels.

    Returns:
        np.ndarray: HxWx3 uint8 RGB image.
    """
    rel = _check_2d(rel_depth, 'rel_depth')
    finite = np.isfinite(rel)
    if not finite.any():
        out = np.empty(rel.shape + (3, ), dtype=np.uint8)
        out[...] = np.asarray(invalid_color, dtype=np.uint8)
        return out
    lo, hi = np.percentile(rel[finite], list(percentiles))
    if not hi > lo:
        hi = lo + 1.0
    filled = np.where(finite, rel, lo)
    scaled = (np.clip(filled, lo, hi) - lo) / (hi - lo)
    out = get_colormap_lut(cmap)[np.rint(scaled * 255).astype(np.uint8)]
    out[~finite] = np.asarray(invalid_color, dtype=np.uint8)
    return out
