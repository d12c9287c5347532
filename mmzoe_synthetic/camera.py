"""Pinhole camera with NYU Depth V2 intrinsics for the synthetic renderer.

World frame used by the renderer: ``x`` to the right, ``y`` up, ``z`` into
the room (metres). Camera frame: OpenCV convention (``x`` right, ``y`` down,
``z`` along the optical axis).
"""
from dataclasses import dataclass, field
from typing import Tuple

import numpy as np

#: NYU Depth V2 RGB intrinsics (NYU toolbox ``camera_params.m``).
NYU_FX = 518.85790117450188
NYU_FY = 519.46961112127485
NYU_CX = 325.58244941119034
NYU_CY = 253.73616633400465
NYU_HEIGHT = 480
NYU_WIDTH = 640


def rotation_from_euler(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-to-world rotation for the renderer's world frame.

    Args:
        yaw (float): Turn about the world up axis in radians; positive turns
            the optical axis towards ``+x``.
        pitch (float): Tilt in radians; positive looks up.
        roll (float): Rotation about the optical axis in radians.

    Returns:
        np.ndarray: 3x3 matrix mapping camera-frame (OpenCV) vectors to
        world-frame vectors.
    """
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    r_yaw = np.array([[cy, 0., sy], [0., 1., 0.], [-sy, 0., cy]])
    r_pitch = np.array([[1., 0., 0.], [0., cp, sp], [0., -sp, cp]])
    r_roll = np.array([[cr, -sr, 0.], [sr, cr, 0.], [0., 0., 1.]])
    flip_y = np.diag([1., -1., 1.])  # OpenCV camera (y down) -> world (y up)
    return r_yaw @ r_pitch @ r_roll @ flip_y


@dataclass
class PinholeCamera:
    """A pinhole camera placed in the world.

    Args:
        fx (float): Focal length along x in pixels.
        fy (float): Focal length along y in pixels.
        cx (float): Principal point x (pixel centres at integer coordinates).
        cy (float): Principal point y.
        height (int): Image height in pixels.
        width (int): Image width in pixels.
        position (np.ndarray): Camera centre in world coordinates (3,).
        rotation (np.ndarray): Camera-to-world rotation (3, 3).
    """

    fx: float = NYU_FX
    fy: float = NYU_FY
    cx: float = NYU_CX
    cy: float = NYU_CY
    height: int = NYU_HEIGHT
    width: int = NYU_WIDTH
    position: np.ndarray = field(default_factory=lambda: np.zeros(3))
    rotation: np.ndarray = field(
        default_factory=lambda: np.diag([1., -1., 1.]))

    @classmethod
    def nyu(cls,
            position: Tuple[float, float, float] = (0., 0., 0.),
            yaw: float = 0.,
            pitch: float = 0.,
            roll: float = 0.,
            scale: float = 1.0) -> 'PinholeCamera':
        """NYU-intrinsics camera, optionally scaled to a smaller image.

        Scaling keeps the camera model consistent: focal lengths scale by
        ``scale`` and the principal point by ``(c + 0.5) * scale - 0.5``.

        Args:
            position (tuple): Camera centre in world coordinates.
            yaw (float): See :func:`rotation_from_euler`.
            pitch (float): See :func:`rotation_from_euler`.
            roll (float): See :func:`rotation_from_euler`.
            scale (float): Image scale; ``480 * scale`` and ``640 * scale``
                must be integers.
        """
        h, w = NYU_HEIGHT * scale, NYU_WIDTH * scale
        if scale <= 0 or abs(h - round(h)) > 1e-6 or abs(w - round(w)) > 1e-6:
            raise ValueError(
                f'scale={scale} must be > 0 and give an integer image size '
                f'(got {h}x{w})')
        return cls(
            fx=NYU_FX * scale,
            fy=NYU_FY * scale,
            cx=(NYU_CX + 0.5) * scale - 0.5,
            cy=(NYU_CY + 0.5) * scale - 0.5,
            height=int(round(h)),
            width=int(round(w)),
            position=np.asarray(position, dtype=np.float64),
            rotation=rotation_from_euler(yaw, pitch, roll))

    @property
    def intrinsics(self) -> np.ndarray:
        """The 3x3 intrinsic matrix ``K``."""
        return np.array([[self.fx, 0., self.cx], [0., self.fy, self.cy],
                         [0., 0., 1.]])

    def ray_directions(self) -> np.ndarray:
        """World-frame ray directions of all pixels, row-major.

        The directions are NOT normalised: each has camera-frame ``z = 1``,
        so the ray parameter ``t`` of a hit is exactly its z-depth (the
        distance along the optical axis, as Kinect/NYU depth).

        Returns:
            np.ndarray: (3, H*W) float64 array.
        """
        v, u = np.mgrid[0:self.height, 0:self.width]
        cam = np.stack([(u.ravel() - self.cx) / self.fx,
                        (v.ravel() - self.cy) / self.fy,
                        np.ones(u.size)])
        return self.rotation @ cam
