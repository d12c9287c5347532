"""Procedural furniture built from axis-aligned boxes.

Every builder returns a :class:`Piece` in a local frame: width ``w`` along
``x``, depth ``d`` along ``z`` with the front at ``z = 0`` and the back at
``z = d``, height along ``y`` from the floor. :func:`place` turns it by a
multiple of 90 degrees and moves it into the room.
"""
from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np

from .geometry import Box, Composite
from .nyu_labels import nyu_id
from .palette import (MaterialBank, darker, fabric, hsv, painted,
                      random_color, wood)
from .textures import Material

Part = Tuple[Tuple[float, float, float], Tuple[float, float, float], int]


@dataclass
class Piece:
    """Furniture in its local frame.

    Args:
        name (str): Kind of furniture.
        w (float): Width (local x).
        d (float): Depth (local z, front at 0).
        parts (list): ``(lo, hi, material)`` boxes in local coordinates.
    """

    name: str
    w: float
    d: float
    parts: List[Part] = field(default_factory=list)

    def add(self, lo, hi, mat: int) -> None:
        """Add a box from ``lo`` to ``hi`` (local coordinates)."""
        self.parts.append((tuple(map(float, lo)), tuple(map(float, hi)), mat))


#: (x, z) -> rotated (x, z) for orientations 0..3. Orientation ``k`` makes
#: the front face ``-z`` (0, back against the far wall), ``+x`` (1, back
#: against the left wall), ``+z`` (2) or ``-x`` (3, back to the right wall).
_ROT = [np.array([[1, 0], [0, 1]]), np.array([[0, -1], [1, 0]]),
        np.array([[-1, 0], [0, -1]]), np.array([[0, 1], [-1, 0]])]


def footprint(piece: Piece, k: int) -> Tuple[float, float]:
    """World ``(size_x, size_z)`` of ``piece`` in orientation ``k``."""
    return (piece.w, piece.d) if k % 2 == 0 else (piece.d, piece.w)


def place(piece: Piece, k: int, x0: float, z0: float,
          y0: float = 0.0) -> Composite:
    """Turn ``piece`` to orientation ``k`` and put its footprint's minimum
    corner at ``(x0, z0)`` and its local floor at height ``y0``."""
    rot = _ROT[k % 4]
    corners = rot @ np.array([[0, piece.w, 0, piece.w],
                              [0, 0, piece.d, piece.d]])
    shift = np.array([x0, z0]) - corners.min(axis=1)
    comp = Composite(name=piece.name)
    for lo, hi, mat in piece.parts:
        c = rot @ np.array([[lo[0], hi[0]], [lo[2], hi[2]]]) + shift[:, None]
        comp.parts.append(
            Box((c[0].min(), lo[1] + y0, c[1].min()),
                (c[0].max(), hi[1] + y0, c[1].max()), mat))
    return comp


def _legs(p: Piece, w: float, d: float, h: float, t: float, mat: int,
          inset: float = 0.02) -> None:
    for x in (inset, w - inset - t):
        for z in (inset, d - inset - t):
            p.add((x, 0, z), (x + t, h, z + t), mat)


def small_object(rng: np.random.Generator, bank: MaterialBank, x: float,
                 y: float, z: float, max_w: float, max_d: float,
                 piece: Piece) -> None:
    """Put a random small object (box, vase, plant, lamp) at ``(x, y, z)``."""
    kind = rng.choice(['box', 'vase', 'plant', 'lamp', 'unlabeled'])
    w = min(rng.uniform(0.1, 0.35), max_w)
    d = min(rng.uniform(0.1, 0.3), max_d)
    if kind == 'lamp':
        base = bank.add(painted(rng, nyu_id('lamp')))
        shade = bank.add(Material(nyu_id('lamp'),
                                  hsv(0.12, 0.2, rng.uniform(0.7, 0.95))))
        piece.add((x + w * 0.4, y, z + d * 0.4),
                  (x + w * 0.6, y + 0.25, z + d * 0.6), base)
        piece.add((x, y + 0.25, z), (x + w, y + 0.45, z + d), shade)
    elif kind == 'plant':
        pot = bank.add(painted(rng, nyu_id('plant')))
        leaves = bank.add(Material(nyu_id('plant'), hsv(
            rng.uniform(0.22, 0.38), 0.6, rng.uniform(0.2, 0.5)),
            hsv(0.3, 0.5, 0.15), 'noise', 0.04))
        piece.add((x, y, z), (x + w, y + 0.15, z + d), pot)
        piece.add((x - 0.03, y + 0.15, z - 0.03),
                  (x + w + 0.03, y + rng.uniform(0.3, 0.5), z + d + 0.03),
                  leaves)
    else:
        label = 0 if kind == 'unlabeled' else nyu_id(kind)
        mat = bank.add(painted(rng, label, rng.choice(['plain', 'noise'])))
        piece.add((x, y, z), (x + w, y + rng.uniform(0.08, 0.35), z + d),
                  mat)


def table(rng: np.random.Generator, bank: MaterialBank,
          label: str = 'table') -> Piece:
    """A table (or desk) with four legs and maybe things on it."""
    w, d = rng.uniform(0.8, 1.6), rng.uniform(0.6, 0.9)
    h = rng.uniform(0.7, 0.78)
    p = Piece(label, w, d)
    mat = bank.add(wood(rng, nyu_id(label)) if rng.random() < 0.7 else
                   painted(rng, nyu_id(label)))
    p.add((0, h - 0.04, 0), (w, h, d), mat)
    _legs(p, w, d, h - 0.04, 0.05, mat)
    for _ in range(rng.integers(0, 3)):
        small_object(rng, bank, rng.uniform(0.05, w - 0.4), h,
                     rng.uniform(0.05, d - 0.35), 0.35, 0.3, p)
    if label == 'desk' and rng.random() < 0.8:
        screen = bank.add(Material(nyu_id('monitor'), (0.03, 0.03, 0.04),
                                   texture='screen', no_return=True))
        mw = min(rng.uniform(0.45, 0.65), w - 0.1)
        mx = rng.uniform(0.05, w - mw - 0.05)
        p.add((mx + mw * 0.45, h, d - 0.25), (mx + mw * 0.55, h + 0.12,
                                              d - 0.17), screen)
        p.add((mx, h + 0.12, d - 0.24), (mx + mw, h + 0.12 + mw * 0.6,
                                         d - 0.2), screen)
        if rng.random() < 0.6:
            pc = bank.add(painted(rng, nyu_id('computer')))
            p.add((w - 0.25, 0, d - 0.5), (w - 0.05, 0.45, d - 0.05), pc)
    return p


def chair(rng: np.random.Generator, bank: MaterialBank) -> Piece:
    """A chair with a back rest at the back (local ``z = d``)."""
    w, d = rng.uniform(0.42, 0.52), rng.uniform(0.42, 0.52)
    sh = rng.uniform(0.43, 0.48)
    p = Piece('chair', w, d)
    mat = bank.add(wood(rng, nyu_id('chair')) if rng.random() < 0.5 else
                   fabric(rng, nyu_id('chair')))
    p.add((0, sh - 0.05, 0), (w, sh, d), mat)
    _legs(p, w, d, sh - 0.05, 0.04, mat, inset=0.01)
    p.add((0, sh, d - 0.05), (w, sh + rng.uniform(0.35, 0.5), d), mat)
    return p


def bed(rng: np.random.Generator, bank: MaterialBank) -> Piece:
    """A bed with headboard, mattress, pillows and a blanket."""
    w, d = rng.uniform(0.9, 1.8), rng.uniform(1.9, 2.1)
    p = Piece('bed', w, d)
    frame = bank.add(wood(rng, nyu_id('bed')))
    mattress = bank.add(Material(nyu_id('bed'), hsv(0.1, 0.05, 0.9),
                                 hsv(0.1, 0.1, 0.8), 'fabric', 0.1))
    p.add((0, 0, 0), (w, 0.3, d), frame)
    p.add((0.02, 0.3, 0.02), (w - 0.02, 0.5, d - 0.08), mattress)
    p.add((0, 0, d - 0.08), (w, rng.uniform(0.8, 1.2), d), frame)
    pil = bank.add(fabric(rng, nyu_id('pillow')))
    n = 1 if w < 1.3 else 2
    pw = (w - 0.1) / n
    for i in range(n):
        p.add((0.05 + i * pw + 0.02, 0.5, d - 0.5),
              (0.05 + (i + 1) * pw - 0.02, 0.62, d - 0.12), pil)
    if rng.random() < 0.8:
        bl = bank.add(fabric(rng, nyu_id('blanket')))
        p.add((-0.02, 0.25, -0.02), (w + 0.02, 0.53, d * rng.uniform(0.5,
                                                                    0.75)),
              bl)
    return p


def sofa(rng: np.random.Generator, bank: MaterialBank) -> Piece:
    """A sofa with back, arms and maybe cushions."""
    w, d = rng.uniform(1.5, 2.4), rng.uniform(0.85, 0.95)
    p = Piece('sofa', w, d)
    mat = bank.add(fabric(rng, nyu_id('sofa')))
    a = 0.18
    p.add((a, 0, 0), (w - a, 0.42, d - 0.2), mat)
    p.add((0, 0, d - 0.22), (w, 0.85, d), mat)
    p.add((0, 0, 0), (a, 0.62, d - 0.22), mat)
    p.add((w - a, 0, 0), (w, 0.62, d - 0.22), mat)
    if rng.random() < 0.6:
        pil = bank.add(fabric(rng, nyu_id('pillow')))
        p.add((a + 0.05, 0.42, d - 0.35), (a + 0.45, 0.8, d - 0.22), pil)
        p.add((w - a - 0.45, 0.42, d - 0.35), (w - a - 0.05, 0.8, d - 0.22),
              pil)
    return p


def bookshelf(rng: np.random.Generator, bank: MaterialBank) -> Piece:
    """A bookshelf (or open shelves) with rows of books."""
    w, d = rng.uniform(0.7, 1.2), rng.uniform(0.3, 0.38)
    h = rng.uniform(1.4, 2.1)
    label = 'bookshelf' if rng.random() < 0.7 else 'shelves'
    p = Piece(label, w, d)
    mat = bank.add(wood(rng, nyu_id(label)) if rng.random() < 0.6 else
                   painted(rng, nyu_id(label)))
    t = 0.025
    p.add((0, 0, 0), (t, h, d), mat)
    p.add((w - t, 0, 0), (w, h, d), mat)
    p.add((t, 0, d - 0.012), (w - t, h, d), mat)
    n = int(rng.integers(4, 7))
    levels = np.linspace(0.05, h - t, n + 1)
    books = bank.add(Material(nyu_id('books'), (0.5, 0.3, 0.2),
                              texture='books', scale=rng.uniform(0.025,
                                                                 0.05)))
    for i, y in enumerate(levels):
        p.add((t, y - t if i else 0, 0), (w - t, y, d - 0.012), mat)
        if i < n and rng.random() < 0.85:
            gap = levels[i + 1] - y - t
            bh = min(rng.uniform(0.17, 0.3), gap - 0.02)
            bw = (w - 2 * t - 0.02) * rng.uniform(0.4, 1.0)
            x0 = t + 0.01 + rng.uniform(0, w - 2 * t - 0.02 - bw)
            if bh > 0.05:
                p.add((x0, y, rng.uniform(0.02, 0.08)),
                      (x0 + bw, y + bh, d - 0.015), books)
    return p


def cabinet(rng: np.random.Generator, bank: MaterialBank,
            label: str = 'cabinet') -> Piece:
    """A cabinet, dresser or night stand (with maybe a lamp on it)."""
    if label == 'night stand':
        w, d, h = rng.uniform(0.4, 0.55), rng.uniform(0.35, 0.45), \
            rng.uniform(0.5, 0.65)
    elif label == 'dresser':
        w, d, h = rng.uniform(0.8, 1.4), rng.uniform(0.4, 0.55), \
            rng.uniform(0.75, 1.1)
    else:
        w, d, h = rng.uniform(0.5, 1.2), rng.uniform(0.35, 0.6), \
            rng.uniform(0.6, 1.9)
    p = Piece(label, w, d)
    body = wood(rng, nyu_id(label)) if rng.random() < 0.5 else painted(
        rng, nyu_id(label))
    body.texture, body.scale = 'drawers', rng.uniform(0.15, 0.3)
    body.color2 = darker(body.color, 0.4)
    mat = bank.add(body)
    p.add((0, 0, 0.02), (w, h - 0.03, d), mat)
    p.add((-0.01, h - 0.03, 0), (w + 0.01, h, d), mat)
    if h < 1.2 and rng.random() < 0.6:
        small_object(rng, bank, rng.uniform(0.0, max(w - 0.35, 0.01)), h,
                     0.05, min(0.35, w), d - 0.1, p)
    return p


def counter(rng: np.random.Generator, bank: MaterialBank) -> Piece:
    """A kitchen counter with wall cabinets above it."""
    w, d = rng.uniform(1.2, 3.0), 0.6
    p = Piece('counter', w, d)
    body = bank.add(painted(rng, nyu_id('counter')))
    top = bank.add(Material(nyu_id('counter'), random_color(
        rng, (0, 0.2), (0.2, 0.9)), (0.2, 0.2, 0.2), 'noise', 0.05))
    p.add((0, 0, 0.05), (w, 0.86, d), body)
    p.add((0, 0.86, 0), (w, 0.9, d), top)
    if rng.random() < 0.8:
        cab = painted(rng, nyu_id('cabinet'), 'drawers')
        cab.scale = 0.7
        p.add((0, rng.uniform(1.4, 1.55), d - 0.35), (w, 2.15, d),
              bank.add(cab))
    for _ in range(rng.integers(0, 3)):
        small_object(rng, bank, rng.uniform(0.05, w - 0.4), 0.9,
                     rng.uniform(0.05, 0.25), 0.35, 0.3, p)
    return p


def tv_stand(rng: np.random.Generator, bank: MaterialBank) -> Piece:
    """A low cabinet with a television on it."""
    w, d, h = rng.uniform(1.0, 1.6), rng.uniform(0.4, 0.5), rng.uniform(
        0.45, 0.6)
    p = Piece('tv stand', w, d)
    p.add((0, 0, 0), (w, h, d), bank.add(wood(rng, nyu_id('cabinet'))))
    tv = bank.add(Material(nyu_id('television'), (0.02, 0.02, 0.025),
                           texture='screen', no_return=True))
    tw = min(rng.uniform(0.8, 1.3), w)
    th = tw * 0.58
    x0 = (w - tw) / 2
    p.add((w / 2 - 0.1, h, d - 0.3), (w / 2 + 0.1, h + 0.06, d - 0.1), tv)
    p.add((x0, h + 0.06, d - 0.24), (x0 + tw, h + 0.06 + th, d - 0.18), tv)
    return p


def radiator(rng: np.random.Generator, bank: MaterialBank) -> Piece:
    """A wall radiator."""
    w = rng.uniform(0.6, 1.2)
    p = Piece('radiator', w, 0.1)
    mat = bank.add(Material(nyu_id('radiator'), hsv(0, 0, 0.85),
                            hsv(0, 0, 0.55), 'stripes', 0.05))
    p.add((0, 0.12, 0), (w, rng.uniform(0.5, 0.7), 0.1), mat)
    return p


def floor_cover(rng: np.random.Generator, bank: MaterialBank) -> Piece:
    """A rug or floor mat (thin box on the floor)."""
    label = 'rug' if rng.random() < 0.7 else 'floor mat'
    w, d = rng.uniform(0.8, 2.5), rng.uniform(0.6, 2.0)
    p = Piece(label, w, d)
    mat = bank.add(Material(nyu_id(label), random_color(rng),
                            random_color(rng), rng.choice(['stripes',
                                                           'noise']),
                            rng.uniform(0.1, 0.3)))
    p.add((0, 0, 0), (w, 0.012, d), mat)
    return p


def clutter(rng: np.random.Generator, bank: MaterialBank) -> Piece:
    """A box, plant or unlabeled thing standing on the floor."""
    p = Piece('clutter', 0.4, 0.4)
    small_object(rng, bank, 0.02, 0, 0.02, 0.36, 0.36, p)
    if rng.random() < 0.5:
        mat = bank.add(painted(rng, nyu_id('box')))
        p.add((0, 0, 0), (0.4, rng.uniform(0.2, 0.5), 0.4), mat)
        p.parts = [p.parts[-1]]
    return p


def ceiling_light(rng: np.random.Generator, bank: MaterialBank) -> Piece:
    """A flat light fixture (its local floor is put at the ceiling)."""
    w = rng.uniform(0.3, 0.7)
    p = Piece('light', w, w)
    mat = bank.add(Material(nyu_id('light'), hsv(0.12, 0.05, 0.95)))
    p.add((0, -0.08, 0), (w, -0.001, w), mat)
    return p
