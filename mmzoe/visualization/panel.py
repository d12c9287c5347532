"""Side-by-side panels: RGB | relative depth | GT | prediction."""
from typing import List, Optional, Sequence

import cv2
import numpy as np

from .colorbar import add_colorbar
from .depth_colormap import colorize_depth, colorize_relative

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _as_2d(depth: np.ndarray, what: str) -> np.ndarray:
    depth = np.asarray(depth)
    if depth.ndim == 3 and 1 in (depth.shape[0], depth.shape[-1]):
        depth = depth.reshape(depth.shape[1:] if depth.shape[0] == 1 else
                              depth.shape[:2])
    if depth.ndim != 2:
        raise ValueError(f'{what} must be HxW, got shape {depth.shape}.')
    return depth.astype(np.float32, copy=False)


def _resize_nearest(depth: np.ndarray, hw: Sequence[int]) -> np.ndarray:
    if depth.shape == tuple(hw):
        return depth
    return cv2.resize(depth, (hw[1], hw[0]), interpolation=cv2.INTER_NEAREST)


def add_title(image: np.ndarray,
              title: str,
              height: Optional[int] = None,
              background=(255, 255, 255),
              text_color=(0, 0, 0)) -> np.ndarray:
    """Put a title strip above an RGB image.

    Args:
        image (np.ndarray): HxWx3 uint8 RGB image.
        title (str): Text (ASCII; OpenCV's Hershey fonts).
        height (int, optional): Strip height; default scales with the image.
        background (tuple[int]): RGB colour of the strip.
        text_color (tuple[int]): RGB colour of the text.

    Returns:
        np.ndarray: (H + strip) x W x 3 uint8 RGB image.
    """
    h, w = image.shape[:2]
    height = height or max(int(round(h * 0.08)), 14)
    scale = height / 40.0
    thickness = 1 if height < 28 else 2
    (tw, th), _ = cv2.getTextSize(title, _FONT, scale, thickness)
    if tw > w - 4 and tw > 0:  # shrink long titles to the tile width
        scale *= (w - 4) / tw
        (tw, th), _ = cv2.getTextSize(title, _FONT, scale, thickness)
    strip = np.empty((height, w, 3), dtype=np.uint8)
    strip[...] = np.asarray(background, dtype=np.uint8)
    org = (max((w - tw) // 2, 2), (height + th) // 2)
    cv2.putText(strip, title, org, _FONT, scale,
                tuple(int(c) for c in text_color), thickness, cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def colorize_labels(labels: np.ndarray,
                    palette: Sequence[Sequence[int]],
                    ignore_color: Sequence[int] = (0, 0, 0)) -> np.ndarray:
    """Colour a label map with a palette.

    Args:
        labels (np.ndarray): HxW integer class ids.
        palette (Sequence[Sequence[int]]): RGB colour of each class id.
        ignore_color (Sequence[int]): RGB colour of ids outside the palette
            (e.g. the ignore index 255). Defaults to black.

    Returns:
        np.ndarray: HxWx3 uint8 RGB image.
    """
    labels = np.asarray(labels)
    if labels.ndim == 3 and labels.shape[0] == 1:
        labels = labels[0]
    if labels.ndim != 2:
        raise ValueError(f'labels must be HxW, got shape {labels.shape}.')
    lut = np.empty((256, 3), dtype=np.uint8)
    lut[...] = np.asarray(ignore_color, dtype=np.uint8)
    table = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)[:256]
    lut[:len(table)] = table
    ids = labels.astype(np.int64)
    ids[(ids < 0) | (ids > 255)] = 255
    return lut[ids]


def make_depth_panel(rgb: np.ndarray,
                     pred_depth: np.ndarray,
                     rel_depth: Optional[np.ndarray] = None,
                     gt_depth: Optional[np.ndarray] = None,
                     vmin: float = 0.0,
                     vmax: float = 10.0,
                     cmap: str = 'inferno',
                     titles: Optional[dict] = None,
                     colorbar: bool = True,
                     separator: int = 4,
                     labels: Optional[np.ndarray] = None,
                     palette: Optional[Sequence[Sequence[int]]] = None
                     ) -> np.ndarray:
    """Compose ``RGB | relative depth | GT | prediction`` into one image.

    The GT and the prediction share the FIXED ``[vmin, vmax]`` metric range
    (one colour bar in metres at the right end), so they can be compared by
    eye; invalid GT pixels (0) are black. Relative depth is normalised per
    image (it has no unit). Tiles are brought to the RGB size (depth maps
    with nearest interpolation).

    Args:
        rgb (np.ndarray): HxWx3 uint8 RGB image.
        pred_depth (np.ndarray): Predicted metric depth in metres.
        rel_depth (np.ndarray, optional): Relative inverse depth; its tile is
            omitted when None.
        gt_depth (np.ndarray, optional): Ground-truth depth in metres,
            0 = invalid; its tile is omitted when None.
        vmin (float): Metric range start. Defaults to 0 m.
        vmax (float): Metric range end. Defaults to 10 m.
        cmap (str): Colour map. Defaults to ``'inferno'``.
        titles (dict, optional): Override tile titles, keys ``rgb``,
            ``relative``, ``gt``, ``pred``, ``labels``.
        colorbar (bool): Append a metric colour bar. Defaults to True.
        separator (int): White gap between tiles in pixels. Defaults to 4.
        labels (np.ndarray, optional): HxW class ids; when given, a
            ``labels`` tile (coloured with ``palette``, ids outside it
            black) is appended after the colour bar. Defaults to None.
        palette (Sequence[Sequence[int]], optional): RGB colour per class
            id; needed with ``labels``.

    Returns:
        np.ndarray: The panel, uint8 RGB.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError('rgb must be an HxWx3 uint8 array, got shape '
                         f'{rgb.shape} dtype {rgb.dtype}.')
    hw = rgb.shape[:2]
    names = dict(rgb='RGB', relative='relative (inv.) depth',
                 gt='ground truth', pred='prediction')
    names.update(titles or {})
    tiles: List[np.ndarray] = [add_title(rgb, names['rgb'])]
    if rel_depth is not None:
        rel = _resize_nearest(_as_2d(rel_depth, 'rel_depth'), hw)
        tiles.append(add_title(colorize_relative(rel, cmap=cmap),
                               names['relative']))
    if gt_depth is not None:
        gt = _resize_nearest(_as_2d(gt_depth, 'gt_depth'), hw)
        tiles.append(add_title(colorize_depth(gt, vmin, vmax, cmap),
                               names['gt']))
    pred = _resize_nearest(_as_2d(pred_depth, 'pred_depth'), hw)
    pred_tile = colorize_depth(pred, vmin, vmax, cmap)
    tiles.append(add_title(pred_tile, names['pred']))

    gap = np.full((tiles[0].shape[0], separator, 3), 255, dtype=np.uint8)
    row: List[np.ndarray] = []
    for i, tile in enumerate(tiles):
        if i:
            row.append(gap)
        row.append(tile)
    panel = np.concatenate(row, axis=1)
    if colorbar:
        strip_h = tiles[0].shape[0] - hw[0]
        body = add_colorbar(panel[strip_h:], vmin, vmax, cmap)
        top = np.full((strip_h, body.shape[1], 3), 255, dtype=np.uint8)
        top[:, :panel.shape[1]] = panel[:strip_h]
        panel = np.concatenate([top, body], axis=0)
    if labels is not None:
        if palette is None:
            raise ValueError('make_depth_panel: labels need a palette.')
        seg = _resize_nearest(np.asarray(labels).reshape(
            np.asarray(labels).shape[-2:]).astype(np.uint8), hw)
        tile = add_title(colorize_labels(seg, palette), names.get(
            'labels', 'labels'), height=panel.shape[0] - hw[0])
        gap = np.full((panel.shape[0], separator, 3), 255, dtype=np.uint8)
        panel = np.concatenate([panel, gap, tile], axis=1)
    return panel
