"""A vertical colour bar with tick labels in metres, drawn with OpenCV."""
import math
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .depth_colormap import get_colormap_lut

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def nice_ticks(vmin: float, vmax: float, max_ticks: int = 6) -> List[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten).

    Args:
        vmin (float): Lower end of the range.
        vmax (float): Upper end of the range.
        max_ticks (int): Upper bound on the number of ticks. Defaults to 6.

    Returns:
        list[float]: Tick values inside ``[vmin, vmax]``, ascending.
    """
    if not vmax > vmin:
        raise ValueError(f'vmax ({vmax}) must be larger than vmin ({vmin}).')
    span = vmax - vmin
    raw_step = span / max(max_ticks - 1, 1)
    power = 10.0**math.floor(math.log10(raw_step))
    step = power * 10
    for mult in (1.0, 2.0, 2.5, 5.0, 10.0):
        if power * mult >= raw_step - 1e-12:
            step = power * mult
            break
    first = math.ceil(vmin / step - 1e-9) * step
    ticks = []
    k = 0
    while first + k * step <= vmax + 1e-9 * span:
        ticks.append(round(first + k * step, 10))
        k += 1
    return ticks


def _format_tick(value: float, unit: str) -> str:
    text = f'{value:g}'
    return f'{text} {unit}'.strip()


def add_colorbar(image: np.ndarray,
                 vmin: float = 0.0,
                 vmax: float = 10.0,
                 cmap: str = 'inferno',
                 unit: str = 'm',
                 ticks: Optional[Sequence[float]] = None,
                 bar_width: Optional[int] = None,
                 background: Tuple[int, int, int] = (255, 255, 255),
                 text_color: Tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Append a vertical colour bar with labelled ticks to the right side.

    The bar spans the image height minus a margin, ``vmax`` at the top and
    ``vmin`` at the bottom, using the same mapping as
    :func:`~mmzoe.visualization.colorize_depth`.

    Args:
        image (np.ndarray): HxWx3 uint8 RGB image (e.g. a colourised depth).
        vmin (float): Value at the bottom of the bar. Defaults to 0.
        vmax (float): Value at the top of the bar. Defaults to 10.
        cmap (str): Colour map name. Defaults to ``'inferno'``.
        unit (str): Unit appended to the tick labels. Defaults to ``'m'``.
        ticks (Sequence[float], optional): Tick values; default: round
            values from :func:`nice_ticks`.
        bar_width (int, optional): Width of the colour strip in pixels;
            default scales with the image height.
        background (tuple[int]): RGB colour of the added area.
        text_color (tuple[int]): RGB colour of ticks and labels.

    Returns:
        np.ndarray: H x (W + bar area) x 3 uint8 RGB image.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError('image must be an HxWx3 uint8 RGB array, got '
                         f'shape {image.shape} dtype {image.dtype}.')
    h = image.shape[0]
    if ticks is None:
        ticks = nice_ticks(vmin, vmax, max_ticks=6 if h >= 120 else 3)
    scale = float(np.clip(h / 480.0 * 0.5, 0.3, 1.0))
    thickness = 1 if scale < 0.7 else 2
    margin = max(int(round(h * 0.04)), 6)
    bar_w = bar_width or max(int(round(h * 0.04)), 8)
    labels = [_format_tick(t, unit) for t in ticks]
    text_w = max([cv2.getTextSize(s, _FONT, scale, thickness)[0][0]
                  for s in labels] + [0])
    text_h = cv2.getTextSize('0', _FONT, scale, thickness)[0][1]
    tick_len = max(bar_w // 3, 3)
    pad = max(bar_w // 2, 4)
    width = pad + bar_w + tick_len + 3 + text_w + pad
    panel = np.empty((h, width, 3), dtype=np.uint8)
    panel[...] = np.asarray(background, dtype=np.uint8)

    top, bottom = margin, h - 1 - margin
    if bottom <= top:
        top, bottom = 0, h - 1
    lut = get_colormap_lut(cmap)
    rows = np.arange(top, bottom + 1)
    frac = (bottom - rows) / max(bottom - top, 1)  # 1 at top, 0 at bottom
    colours = lut[np.rint(frac * 255).astype(np.int64)]
    x0, x1 = pad, pad + bar_w
    panel[top:bottom + 1, x0:x1] = colours[:, None, :]
    tc = tuple(int(c) for c in text_color)
    cv2.rectangle(panel, (x0, top), (x1 - 1, bottom), tc, 1)
    for value, label in zip(ticks, labels):
        if value < vmin - 1e-9 or value > vmax + 1e-9:
            continue
        y = int(round(bottom - (value - vmin) / (vmax - vmin) *
                      (bottom - top)))
        cv2.line(panel, (x1, y), (x1 + tick_len, y), tc, 1)
        ty = int(np.clip(y + text_h // 2, text_h, h - 1))
        cv2.putText(panel, label, (x1 + tick_len + 3, ty), _FONT, scale, tc,
                    thickness, cv2.LINE_AA)
    return np.concatenate([image, panel], axis=1)
