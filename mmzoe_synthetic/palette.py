"""Random colours and materials for the synthetic renderer."""
import colorsys
from typing import List, Tuple

import numpy as np

from .textures import Material

Color = Tuple[float, float, float]


def hsv(h: float, s: float, v: float) -> Color:
    """HSV (all in ``[0, 1]``) to an RGB tuple."""
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def random_color(rng: np.random.Generator,
                 sat: Tuple[float, float] = (0.1, 0.6),
                 val: Tuple[float, float] = (0.3, 0.9)) -> Color:
    """A colour with random hue and saturation/value in the given ranges."""
    return hsv(rng.random(), rng.uniform(*sat), rng.uniform(*val))


def darker(c: Color, f: float) -> Color:
    """``c`` scaled by ``f`` (clipped to ``[0, 1]``)."""
    return tuple(float(min(max(x * f, 0.), 1.)) for x in c)


def wood(rng: np.random.Generator, label: int) -> Material:
    """A wood material (light pine to dark walnut)."""
    base = hsv(rng.uniform(0.05, 0.11), rng.uniform(0.4, 0.7),
               rng.uniform(0.25, 0.8))
    return Material(label, base, darker(base, 0.7), 'wood',
                    scale=rng.uniform(0.12, 0.25))


def fabric(rng: np.random.Generator, label: int) -> Material:
    """A fabric material (upholstery, bedding)."""
    base = random_color(rng, (0.05, 0.6), (0.25, 0.9))
    return Material(label, base, darker(base, 0.75), 'fabric',
                    scale=rng.uniform(0.05, 0.2))


def painted(rng: np.random.Generator, label: int,
            texture: str = 'plain') -> Material:
    """A painted / laminated surface."""
    base = random_color(rng, (0.0, 0.4), (0.35, 0.95))
    return Material(label, base, darker(base, 0.6), texture,
                    scale=rng.uniform(0.15, 0.4))


class MaterialBank:
    """The list of materials of one scene; indices go into the G-buffer."""

    def __init__(self) -> None:
        self.materials: List[Material] = []

    def add(self, mat: Material) -> int:
        """Append ``mat`` and return its index."""
        self.materials.append(mat)
        return len(self.materials) - 1
