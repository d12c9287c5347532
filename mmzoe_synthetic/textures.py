"""Procedural textures (vectorised numpy) for the synthetic renderer.

Every texture maps 2-D surface coordinates in metres to an albedo in
``[0, 1]``. Randomness comes from a :class:`ValueNoise` lattice drawn from the
frame's generator, so a seed fixes the look exactly.
"""
from dataclasses import dataclass
from typing import Tuple

import numpy as np

TEXTURES = ('plain', 'noise', 'wood', 'tiles', 'stripes', 'books', 'drawers',
            'screen', 'glass', 'fabric')


@dataclass
class Material:
    """Surface material.

    Args:
        label (int): NYU 894 label id written for pixels of this material.
        color (tuple): Base RGB albedo in ``[0, 1]``.
        color2 (tuple): Secondary RGB albedo (grain, grout, stripes...).
        texture (str): One of :data:`TEXTURES`.
        scale (float): Texture period in metres (meaning depends on texture).
        no_return (bool): The Kinect gets no depth from it (glass, screens,
            mirrors, black surfaces).
        emissive (bool): Shown unlit (window glass: the bright outside).
    """

    label: int
    color: Tuple[float, float, float]
    color2: Tuple[float, float, float] = (0., 0., 0.)
    texture: str = 'plain'
    scale: float = 0.2
    no_return: bool = False
    emissive: bool = False

    def __post_init__(self) -> None:
        if self.texture not in TEXTURES:
            raise ValueError(f'unknown texture {self.texture!r}; '
                             f'choose from {TEXTURES}')


class ValueNoise:
    """Smooth 2-D value noise on a periodic random lattice.

    Args:
        rng (np.random.Generator): Source of the lattice values.
        size (int): Lattice period (power of two).
    """

    def __init__(self, rng: np.random.Generator, size: int = 128) -> None:
        self.size = size
        self.table = rng.random((size, size), dtype=np.float32)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Noise in ``[0, 1]`` at lattice coordinates ``(x, y)``."""
        xf, yf = np.floor(x), np.floor(y)
        fx, fy = (x - xf).astype(np.float32), (y - yf).astype(np.float32)
        fx = fx * fx * (3 - 2 * fx)
        fy = fy * fy * (3 - 2 * fy)
        m = self.size - 1
        x0 = xf.astype(np.int64) & m
        y0 = yf.astype(np.int64) & m
        x1, y1 = (x0 + 1) & m, (y0 + 1) & m
        t = self.table
        top = t[y0, x0] * (1 - fx) + t[y0, x1] * fx
        bot = t[y1, x0] * (1 - fx) + t[y1, x1] * fx
        return top * (1 - fy) + bot * fy

    def fbm(self, x: np.ndarray, y: np.ndarray,
            octaves: int = 3) -> np.ndarray:
        """Fractal sum of ``octaves`` noise layers, in ``[0, 1]``."""
        total = np.zeros(np.shape(x), np.float32)
        amp, norm = 1.0, 0.0
        for k in range(octaves):
            f = 2.0**k
            total += amp * self(x * f + 17.3 * k, y * f + 5.1 * k)
            norm += amp
            amp *= 0.5
        return total / norm


def _hash01(i: np.ndarray, j: np.ndarray, salt: int = 0) -> np.ndarray:
    """Deterministic pseudo-random value in ``[0, 1)`` per integer cell."""
    h = (i.astype(np.int64) * 73856093) ^ (j.astype(np.int64) * 19349663) ^ (
        salt * 83492791)
    h = (h ^ (h >> 13)) * 1274126177
    return ((h ^ (h >> 16)) & 0xFFFF).astype(np.float32) / 65536.0


def _mix(c1: np.ndarray, c2: np.ndarray, w: np.ndarray) -> np.ndarray:
    w = w[:, None]
    return c1[None, :] * (1 - w) + c2[None, :] * w


def shade_texture(mat: Material, s: np.ndarray, r: np.ndarray,
                  noise: ValueNoise, salt: int = 0) -> np.ndarray:
    """Albedo of ``mat`` at surface coordinates ``(s, r)``.

    Args:
        mat (Material): The material.
        s (np.ndarray): First surface coordinate (metres), shape (n,).
        r (np.ndarray): Second surface coordinate (metres, usually the
            vertical one on walls), shape (n,).
        noise (ValueNoise): The frame's noise lattice.
        salt (int): Varies per-cell hashes between materials.

    Returns:
        np.ndarray: (n, 3) float32 albedo in ``[0, 1]``.
    """
    c1 = np.asarray(mat.color, np.float32)
    c2 = np.asarray(mat.color2, np.float32)
    sc = max(mat.scale, 1e-3)
    kind = mat.texture
    if kind in ('plain', 'glass'):
        out = c1[None, :] * (0.93 + 0.14 * noise(s * 3 / sc, r * 3 / sc)
                             )[:, None]
    elif kind == 'noise':
        out = _mix(c1, c2, noise.fbm(s / sc, r / sc))
    elif kind == 'fabric':
        w = 0.6 * noise.fbm(s / sc, r / sc) + 0.4 * (
            0.5 + 0.5 * np.sin(s * 400) * np.sin(r * 400))
        out = _mix(c1, c2, w)
    elif kind == 'wood':
        # planks of width ``scale`` along s, grain rings along r
        plank = np.floor(s / sc)
        tint = 0.85 + 0.3 * _hash01(plank, plank * 0 + 1, salt)
        warp = 2.5 * noise(s / sc * 2, r * 1.5 + plank * 7.7)
        grain = 0.5 + 0.5 * np.sin((s / sc * 6 + warp) * np.pi * 2)
        out = _mix(c1, c2, grain**3) * tint[:, None]
        seam = np.abs(s / sc - np.round(s / sc)) < 0.03
        out[seam] *= 0.55
    elif kind == 'tiles':
        fs, fr = s / sc, r / sc
        ti, tj = np.floor(fs), np.floor(fr)
        tint = 0.9 + 0.2 * _hash01(ti, tj, salt)
        out = c1[None, :] * tint[:, None]
        grout = (np.minimum(fs - ti, 1 - (fs - ti)) < 0.04) | (
            np.minimum(fr - tj, 1 - (fr - tj)) < 0.04)
        out[grout] = c2
    elif kind == 'stripes':
        w = (np.sin(s / sc * 2 * np.pi) > 0.2).astype(np.float32)
        out = _mix(c1, c2, 0.7 * w + 0.3 * noise(s * 8, r * 8) * w)
    elif kind == 'books':
        # book spines: random width and colour per ``scale`` cell along s
        cell = np.floor(s / sc)
        h1, h2, h3 = (_hash01(cell, cell * 0 + k, salt) for k in (3, 4, 5))
        spine = np.stack([h1, h2, h3], 1) * 0.8 + 0.1
        gap = (s / sc - cell) > 0.9
        out = spine * (0.9 + 0.1 * noise(s * 40, r * 5))[:, None]
        out[gap] *= 0.2
    elif kind == 'drawers':
        fr = r / sc
        line = np.abs(fr - np.round(fr)) < 0.03
        out = c1[None, :] * (0.95 + 0.1 * noise(s * 5, r * 5))[:, None]
        out[line] = c2
    elif kind == 'screen':
        out = c1[None, :] * (0.8 + 0.4 * noise(s * 2, r * 2))[:, None]
    else:  # pragma: no cover - guarded by Material.__post_init__
        raise ValueError(kind)
    return np.clip(out, 0., 1.).astype(np.float32)
