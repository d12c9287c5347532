"""Back-projection of depth maps to coloured point clouds and PLY files.

Camera convention (OpenCV / NYU): x to the right, y down, z forward along the
optical axis; pixel ``(u, v)`` = (column, row) with integer coordinates at the
pixel centres; ``depth`` is the z-depth (as Kinect / NYU depth), so a pixel
back-projects to ``((u - cx) * z / fx, (v - cy) * z / fy, z)``.
"""
import os
import os.path as osp
from typing import Optional, Tuple, Union

import numpy as np

PathLike = Union[str, os.PathLike]

#: NYU Depth V2 RGB camera intrinsics (640x480) from the NYU toolbox.
NYU_INTRINSICS = dict(
    fx=518.8579, fy=519.4696, cx=325.5824, cy=253.7362)


def depth_to_points(depth: np.ndarray,
                    fx: float = NYU_INTRINSICS['fx'],
                    fy: float = NYU_INTRINSICS['fy'],
                    cx: float = NYU_INTRINSICS['cx'],
                    cy: float = NYU_INTRINSICS['cy'],
                    rgb: Optional[np.ndarray] = None,
                    max_depth: Optional[float] = None
                    ) -> Tuple[np.ndarray, Optional[np.ndarray], np.ndarray]:
    """Back-project every valid pixel of a depth map to a 3D point.

    Args:
        depth (np.ndarray): HxW z-depth in metres; pixels that are not finite
            or not > 0 are invalid and produce no point.
        fx (float): Focal length in pixels along x. Default: NYU RGB camera.
        fy (float): Focal length in pixels along y. Default: NYU RGB camera.
        cx (float): Principal point column. Default: NYU RGB camera.
        cy (float): Principal point row. Default: NYU RGB camera.
        rgb (np.ndarray, optional): HxWx3 uint8 RGB colours of the pixels.
        max_depth (float, optional): Also drop pixels deeper than this.

    Returns:
        tuple: ``points`` (Nx3 float32, metres), ``colors`` (Nx3 uint8 or
        None) and ``pixels`` (Nx2 int64 ``(row, col)`` of each point), in
        row-major pixel order.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(
            f'depth must be an HxW array, got shape {depth.shape}.')
    if not (fx > 0 and fy > 0):
        raise ValueError(f'fx and fy must be positive, got {fx}, {fy}.')
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(depth) & (depth > 0)
        if max_depth is not None:
            valid &= depth <= max_depth
    rows, cols = np.nonzero(valid)
    z = depth[rows, cols].astype(np.float64)
    x = (cols - cx) * z / fx
    y = (rows - cy) * z / fy
    points = np.stack([x, y, z], axis=1).astype(np.float32)
    colors = None
    if rgb is not None:
        rgb = np.asarray(rgb)
        if rgb.shape != depth.shape + (3, ) or rgb.dtype != np.uint8:
            raise ValueError(
                f'rgb must be an HxWx3 uint8 array matching the depth size '
                f'{depth.shape}, got shape {rgb.shape} dtype {rgb.dtype}.')
        colors = rgb[rows, cols]
    pixels = np.stack([rows, cols], axis=1).astype(np.int64)
    return points, colors, pixels


def write_ply(path: PathLike,
              points: np.ndarray,
              colors: Optional[np.ndarray] = None,
              binary: bool = True) -> None:
    """Write a point cloud as a PLY file (one vertex per point).

    Vertices have ``float x, y, z`` and, with colours, ``uchar red, green,
    blue``. Binary files are little-endian.

    Args:
        path (str | PathLike): Output ``.ply`` file; its folder is created.
        points (np.ndarray): Nx3 coordinates.
        colors (np.ndarray, optional): Nx3 uint8 RGB colours.
        binary (bool): ``binary_little_endian`` if True, else ``ascii``.
            Defaults to True.
    """
    path = os.fspath(path)
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f'points must be Nx3, got shape {points.shape}.')
    fields = [('x', '<f4'), ('y', '<f4'), ('z', '<f4')]
    if colors is not None:
        colors = np.asarray(colors)
        if colors.shape != points.shape or colors.dtype != np.uint8:
            raise ValueError(f'colors must be Nx3 uint8 like points '
                             f'{points.shape}, got shape {colors.shape} '
                             f'dtype {colors.dtype}.')
        fields += [('red', 'u1'), ('green', 'u1'), ('blue', 'u1')]
    vertices = np.empty(len(points), dtype=fields)
    vertices['x'], vertices['y'], vertices['z'] = points.T
    if colors is not None:
        vertices['red'], vertices['green'], vertices['blue'] = colors.T
    fmt = 'binary_little_endian' if binary else 'ascii'
    header = ['ply', f'format {fmt} 1.0', 'comment written by mmzoe',
              f'element vertex {len(points)}', 'property float x',
              'property float y', 'property float z']
    if colors is not None:
        header += [
            'property uchar red', 'property uchar green', 'property uchar blue'
        ]
    header.append('end_header')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(('\n'.join(header) + '\n').encode('ascii'))
        if binary:
            f.write(vertices.tobytes())
        else:
            lines = []
            for v in vertices.tolist():
                xyz = ' '.join(f'{c:.9g}' for c in v[:3])
                rest = ''.join(f' {int(c)}' for c in v[3:])
                lines.append(xyz + rest)
            f.write(('\n'.join(lines) + ('\n' if lines else '')).encode())


def save_depth_as_ply(path: PathLike,
                      depth: np.ndarray,
                      rgb: Optional[np.ndarray] = None,
                      fx: float = NYU_INTRINSICS['fx'],
                      fy: float = NYU_INTRINSICS['fy'],
                      cx: float = NYU_INTRINSICS['cx'],
                      cy: float = NYU_INTRINSICS['cy'],
                      binary: bool = True,
                      max_depth: Optional[float] = None) -> int:
    """Back-project a depth map and write the coloured point cloud as PLY.

    Args:
        path (str | PathLike): Output ``.ply`` file.
        depth (np.ndarray): HxW z-depth in metres (invalid: not finite or
            not > 0).
        rgb (np.ndarray, optional): HxWx3 uint8 RGB image of the same size.
        fx (float): Focal length along x in pixels. Default: NYU RGB camera.
        fy (float): Focal length along y in pixels. Default: NYU RGB camera.
        cx (float): Principal point column. Default: NYU RGB camera.
        cy (float): Principal point row. Default: NYU RGB camera.
        binary (bool): Binary (True, default) or ASCII PLY.
        max_depth (float, optional): Drop pixels deeper than this.

    Returns:
        int: The number of vertices written (= valid pixels).
    """
    points, colors, _ = depth_to_points(
        depth, fx=fx, fy=fy, cx=cx, cy=cy, rgb=rgb, max_depth=max_depth)
    write_ply(path, points, colors, binary=binary)
    return len(points)
