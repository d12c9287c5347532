"""Ray casting against a box-shaped room and axis-aligned boxes (numpy).

All rays share one origin (the camera centre); directions are those of
:meth:`PinholeCamera.ray_directions`, so a hit's ray parameter ``t`` is its
z-depth.
"""
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

import numpy as np

#: Room face ids: ``axis * 2 + (hit on the high side)``.
FACE_LEFT, FACE_RIGHT, FACE_FLOOR, FACE_CEILING, FACE_BACK, FACE_FRONT = range(
    6)
_EPS = 1e-6


@dataclass
class Box:
    """Axis-aligned box.

    Args:
        lo (np.ndarray): Minimum corner (3,), world metres.
        hi (np.ndarray): Maximum corner (3,).
        material (int): Index into the scene's material list.
    """

    lo: np.ndarray
    hi: np.ndarray
    material: int

    def __post_init__(self) -> None:
        self.lo = np.asarray(self.lo, np.float64)
        self.hi = np.asarray(self.hi, np.float64)
        if np.any(self.hi <= self.lo):
            raise ValueError(f'degenerate box lo={self.lo} hi={self.hi}')


@dataclass
class Composite:
    """A piece of furniture: boxes tested together behind their bounds.

    Args:
        parts (list[Box]): The boxes.
        name (str): Free-form name (for debugging).
    """

    parts: List[Box] = field(default_factory=list)
    name: str = ''

    @property
    def bounds(self) -> Tuple[np.ndarray, np.ndarray]:
        lo = np.min([p.lo for p in self.parts], axis=0)
        hi = np.max([p.hi for p in self.parts], axis=0)
        return lo, hi


@dataclass
class GBuffer:
    """Per-ray hit record.

    Args:
        t (np.ndarray): Hit distance along the ray (= z-depth), (N,).
        material (np.ndarray): Material index per ray, (N,) int32.
        axis (np.ndarray): Axis of the hit face's normal (0, 1, 2), (N,).
        sign (np.ndarray): Sign of the normal along ``axis`` (+1/-1), (N,).
        face (np.ndarray): Room face id for room hits, -1 for boxes, (N,).
    """

    t: np.ndarray
    material: np.ndarray
    axis: np.ndarray
    sign: np.ndarray
    face: np.ndarray


def safe_inverse(d: np.ndarray) -> np.ndarray:
    """``1 / d`` with exact zeros nudged to a tiny signed value."""
    d = np.where(np.abs(d) < 1e-12, np.where(d < 0, -1e-12, 1e-12), d)
    return 1.0 / d


def intersect_room(origin: np.ndarray, inv_d: np.ndarray,
                   room_size: Sequence[float]) -> GBuffer:
    """Hit the inside of the room box ``[0, W] x [0, H] x [0, D]``.

    Args:
        origin (np.ndarray): Ray origin (3,), must be inside the room.
        inv_d (np.ndarray): Inverse ray directions (3, N).
        room_size (sequence): ``(W, H, D)`` in metres.

    Returns:
        GBuffer: ``material`` is the room face id (0..5), to be mapped to
        materials by the caller.
    """
    size = np.asarray(room_size, np.float64)
    if np.any(origin <= 0) or np.any(origin >= size):
        raise ValueError(f'camera {origin} is not inside the room {size}')
    far = []
    for a in range(3):
        t_lo = (0.0 - origin[a]) * inv_d[a]
        t_hi = (size[a] - origin[a]) * inv_d[a]
        far.append(np.maximum(t_lo, t_hi))
    far = np.stack(far)
    axis = np.argmin(far, axis=0)
    t = np.take_along_axis(far, axis[None], 0)[0]
    high = np.take_along_axis(inv_d, axis[None], 0)[0] > 0
    face = (axis * 2 + high).astype(np.int16)
    sign = np.where(high, -1, 1).astype(np.int8)
    return GBuffer(t=t, material=face.astype(np.int32),
                   axis=axis.astype(np.int8), sign=sign, face=face)


def slab_test(origin: np.ndarray, inv_d: np.ndarray, lo: np.ndarray,
              hi: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray / axis-aligned box intersection (slab method).

    Args:
        origin (np.ndarray): Ray origin (3,), outside the box.
        inv_d (np.ndarray): Inverse ray directions (3, n).
        lo (np.ndarray): Box minimum corner (3,).
        hi (np.ndarray): Box maximum corner (3,).

    Returns:
        tuple: ``t_near`` (n,), ``hit`` (n,) bool, ``axis`` (n,) of the
        entry face.
    """
    near = []
    t_far = None
    for a in range(3):
        t1 = (lo[a] - origin[a]) * inv_d[a]
        t2 = (hi[a] - origin[a]) * inv_d[a]
        near.append(np.minimum(t1, t2))
        f = np.maximum(t1, t2)
        t_far = f if t_far is None else np.minimum(t_far, f)
    t_near = np.maximum(np.maximum(near[0], near[1]), near[2])
    hit = (t_near <= t_far) & (t_near > _EPS)
    axis = np.where(t_near == near[0], 0, np.where(t_near == near[1], 1, 2))
    return t_near, hit, axis


def trace(origin: np.ndarray, directions: np.ndarray,
          room_size: Sequence[float], room_materials: Sequence[int],
          composites: Sequence[Composite]) -> GBuffer:
    """Cast all rays into a room with furniture.

    Args:
        origin (np.ndarray): Camera centre (3,).
        directions (np.ndarray): Ray directions (3, N).
        room_size (sequence): ``(W, H, D)``.
        room_materials (sequence[int]): Material index per room face id.
        composites (sequence[Composite]): Furniture.

    Returns:
        GBuffer: Nearest hit per ray.
    """
    origin = np.asarray(origin, np.float64)
    inv_d = safe_inverse(directions)
    gb = intersect_room(origin, inv_d, room_size)
    gb.material = np.asarray(room_materials, np.int32)[gb.face]
    for comp in composites:
        if not comp.parts:
            continue
        lo, hi = comp.bounds
        if np.all(origin > lo) and np.all(origin < hi):
            raise ValueError(f'camera {origin} is inside {comp.name!r}')
        t_bb, hit_bb, _ = slab_test(origin, inv_d, lo, hi)
        idx = np.nonzero(hit_bb & (t_bb < gb.t))[0]
        if idx.size == 0:
            continue
        sub_inv = inv_d[:, idx]
        best_t = gb.t[idx]
        best_mat = gb.material[idx]
        best_axis = gb.axis[idx]
        changed = np.zeros(idx.size, bool)
        for part in comp.parts:
            t, hit, axis = slab_test(origin, sub_inv, part.lo, part.hi)
            closer = hit & (t < best_t)
            best_t = np.where(closer, t, best_t)
            best_mat = np.where(closer, part.material, best_mat)
            best_axis = np.where(closer, axis, best_axis)
            changed |= closer
        sel = idx[changed]
        gb.t[sel] = best_t[changed]
        gb.material[sel] = best_mat[changed]
        gb.axis[sel] = best_axis[changed]
        d_axis = np.take_along_axis(directions[:, sel],
                                    gb.axis[sel][None].astype(np.int64),
                                    0)[0]
        gb.sign[sel] = np.where(d_axis > 0, -1, 1)
        gb.face[sel] = -1
    return gb
