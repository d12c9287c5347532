"""Kinect-like raw depth: the exact depth with documented holes (0 = missing).

Holes appear only for these reasons (bit flags of the returned reason map);
everywhere else the raw depth equals the exact depth:

* :data:`HOLE_RANGE` - depth beyond the frame's maximum range (drawn in
  ``[8, 10]`` m) or closer than the Kinect minimum (0.45 m).
* :data:`HOLE_EDGE` - within a few pixels of a depth discontinuity
  (relative jump above ``edge_rel``), as the Kinect's stereo matching and
  projector shadow fail there.
* :data:`HOLE_SURFACE` - surfaces that return no IR pattern: materials
  flagged ``no_return`` (window glass, screens) and very dark albedo.
* :data:`HOLE_GRAZING` - grazing incidence (cosine between the viewing ray
  and the normal below ``grazing_cos``).
* :data:`HOLE_SPECKLE` - small random blobs.
"""
from typing import Tuple

import numpy as np

HOLE_RANGE = 1
HOLE_EDGE = 2
HOLE_SURFACE = 4
HOLE_GRAZING = 8
HOLE_SPECKLE = 16

KINECT_MIN_RANGE = 0.45


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of a 2-D mask by a square of side ``2*radius+1``."""
    if radius <= 0:
        return mask.copy()
    out = mask.copy()
    for _ in range(radius):  # separable, one pixel per step
        grown = out.copy()
        grown[1:, :] |= out[:-1, :]
        grown[:-1, :] |= out[1:, :]
        out = grown
        grown = out.copy()
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def depth_edges(depth: np.ndarray, edge_rel: float) -> np.ndarray:
    """Pixels next to a relative depth jump larger than ``edge_rel``."""
    edges = np.zeros(depth.shape, bool)
    dx = np.abs(np.diff(depth, axis=1)) > edge_rel * np.minimum(
        depth[:, 1:], depth[:, :-1])
    dy = np.abs(np.diff(depth, axis=0)) > edge_rel * np.minimum(
        depth[1:, :], depth[:-1, :])
    edges[:, 1:] |= dx
    edges[:, :-1] |= dx
    edges[1:, :] |= dy
    edges[:-1, :] |= dy
    return edges


def simulate_kinect(depth: np.ndarray,
                    no_return: np.ndarray,
                    albedo_lum: np.ndarray,
                    cos_incidence: np.ndarray,
                    rng: np.random.Generator,
                    edge_rel: float = 0.05,
                    dark_threshold: float = 0.06,
                    grazing_cos: float = 0.08,
                    speckle_prob: float = 0.0005,
                    max_range: Tuple[float, float] = (8.0, 10.0)
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Make the raw depth of a frame.

    Args:
        depth (np.ndarray): Exact z-depth (H, W) float32, metres.
        no_return (np.ndarray): (H, W) bool, surfaces with no IR return.
        albedo_lum (np.ndarray): (H, W) albedo luminance in ``[0, 1]``.
        cos_incidence (np.ndarray): (H, W) ``|cos|`` of the angle between
            viewing ray and surface normal.
        rng (np.random.Generator): Frame generator.
        edge_rel (float): Relative jump that counts as a depth edge.
        dark_threshold (float): Albedo luminance below which no depth.
        grazing_cos (float): Incidence cosine below which no depth.
        speckle_prob (float): Per-pixel probability of a speckle seed.
        max_range (tuple): Range from which the frame's maximum range is
            drawn uniformly.

    Returns:
        tuple: ``raw`` (H, W) float32 (0 = missing, else == ``depth``) and
        ``reason`` (H, W) uint8 bit flags (0 = valid).
    """
    reason = np.zeros(depth.shape, np.uint8)
    far = rng.uniform(*max_range)
    reason[(depth > far) | (depth < KINECT_MIN_RANGE)] |= HOLE_RANGE
    radius = int(rng.integers(1, 4))
    reason[dilate(depth_edges(depth, edge_rel), radius)] |= HOLE_EDGE
    reason[no_return | (albedo_lum < dark_threshold)] |= HOLE_SURFACE
    reason[cos_incidence < grazing_cos] |= HOLE_GRAZING
    seeds = rng.random(depth.shape) < speckle_prob
    reason[dilate(seeds, int(rng.integers(1, 3)))] |= HOLE_SPECKLE
    raw = np.where(reason == 0, depth, 0).astype(np.float32)
    return raw, reason
