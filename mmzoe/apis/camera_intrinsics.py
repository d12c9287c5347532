"""Pinhole camera intrinsics from files, for the point clouds.

Formats (picked by content, not by name):

* text: a 3x3 matrix ``K`` (9 numbers, row-major, spaces/commas/newlines);
* JSON: a 3x3 list; ``{"K": ...}`` / ``{"camera_matrix": ...}`` /
  ``{"intrinsics": ...}`` (3x3 or 9 numbers row-major); ``{"fx", "fy", "cx",
  "cy"}`` (optional ``"width"``, ``"height"``); Open3D's
  ``PinholeCameraIntrinsic`` JSON (``width``, ``height``,
  ``intrinsic_matrix``: 9 numbers **column-major**, as Open3D writes them);
* COLMAP ``cameras.txt``: ``CAMERA_ID MODEL WIDTH HEIGHT PARAMS...`` (the
  first camera, or ``camera_id``); the pinhole part of every model is used
  and lens distortion is ignored (a warning says so).

Conventions: the point clouds use pixel centres at integer coordinates
(OpenCV, NYU). COLMAP puts pixel centres at +0.5, so 0.5 is subtracted from
its principal point. When the file gives the image size it was calibrated
for and the image has another size, the intrinsics are scaled to the image
(a resized video, for instance).
"""
import json
import os
import os.path as osp
import re
import warnings
from typing import Dict, Optional, Tuple, Union

import numpy as np

PathLike = Union[str, os.PathLike]

#: COLMAP camera models: parameter names before the distortion terms.
_COLMAP_PINHOLE = {
    'SIMPLE_PINHOLE': ('f', 'cx', 'cy'),
    'PINHOLE': ('fx', 'fy', 'cx', 'cy'),
    'SIMPLE_RADIAL': ('f', 'cx', 'cy'),
    'RADIAL': ('f', 'cx', 'cy'),
    'OPENCV': ('fx', 'fy', 'cx', 'cy'),
    'OPENCV_FISHEYE': ('fx', 'fy', 'cx', 'cy'),
    'FULL_OPENCV': ('fx', 'fy', 'cx', 'cy'),
    'FOV': ('fx', 'fy', 'cx', 'cy'),
    'SIMPLE_RADIAL_FISHEYE': ('f', 'cx', 'cy'),
    'RADIAL_FISHEYE': ('f', 'cx', 'cy'),
    'THIN_PRISM_FISHEYE': ('fx', 'fy', 'cx', 'cy'),
}
_COLMAP_NUM_PARAMS = {
    'SIMPLE_PINHOLE': 3, 'PINHOLE': 4, 'SIMPLE_RADIAL': 4, 'RADIAL': 5,
    'OPENCV': 8, 'OPENCV_FISHEYE': 8, 'FULL_OPENCV': 12, 'FOV': 5,
    'SIMPLE_RADIAL_FISHEYE': 4, 'RADIAL_FISHEYE': 5, 'THIN_PRISM_FISHEYE': 12
}


class IntrinsicsError(ValueError):
    """A camera file that cannot be read as pinhole intrinsics."""


def _from_matrix(k, path: str, column_major: bool = False) -> Dict[str, float]:
    try:
        k = np.asarray(k, dtype=np.float64)
    except (TypeError, ValueError):
        raise IntrinsicsError(f'{path}: the camera matrix is not numeric.')
    if k.size != 9:
        raise IntrinsicsError(f'{path}: expected a 3x3 camera matrix (9 '
                              f'numbers), got {k.size} numbers.')
    k = k.reshape(3, 3)
    if column_major:
        k = k.T
    if not (np.allclose(k[2], (0, 0, 1)) and k[1, 0] == 0):
        raise IntrinsicsError(
            f'{path}: not a pinhole camera matrix [[fx, s, cx], [0, fy, cy], '
            f'[0, 0, 1]]: {k.tolist()}.')
    if abs(k[0, 1]) > 1e-9 * abs(k[0, 0]):
        warnings.warn(f'{path}: the skew {k[0, 1]} is ignored.')
    return dict(fx=float(k[0, 0]), fy=float(k[1, 1]), cx=float(k[0, 2]),
                cy=float(k[1, 2]))


def _parse_json(data, path: str) -> Tuple[Dict[str, float], Optional[tuple]]:
    size = None
    if isinstance(data, list):
        return _from_matrix(data, path), None
    if not isinstance(data, dict):
        raise IntrinsicsError(f'{path}: unsupported JSON camera content.')
    if 'width' in data and 'height' in data:
        size = (int(data['height']), int(data['width']))
    if 'intrinsic_matrix' in data:  # Open3D PinholeCameraIntrinsic
        return _from_matrix(data['intrinsic_matrix'], path,
                            column_major=True), size
    for key in ('K', 'camera_matrix', 'intrinsics', 'intrinsic'):
        if key in data:
            return _from_matrix(data[key], path), size
    if all(k in data for k in ('fx', 'fy', 'cx', 'cy')):
        return {k: float(data[k]) for k in ('fx', 'fy', 'cx', 'cy')}, size
    raise IntrinsicsError(
        f'{path}: JSON without a camera matrix (keys K, camera_matrix, '
        'intrinsics, intrinsic_matrix (Open3D) or fx/fy/cx/cy); found '
        f'{sorted(data)}.')


def _parse_colmap(text: str, path: str, camera_id: Optional[int]
                  ) -> Tuple[Dict[str, float], tuple]:
    cameras = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        cameras.append(line.split())
    if not cameras:
        raise IntrinsicsError(f'{path}: no camera line in the COLMAP file.')
    if camera_id is not None:
        cameras = [c for c in cameras if c[0] == str(camera_id)]
        if not cameras:
            raise IntrinsicsError(f'{path}: no camera {camera_id}.')
    elif len(cameras) > 1:
        warnings.warn(f'{path}: {len(cameras)} cameras, using the first '
                      f'(id {cameras[0][0]}).')
    cam = cameras[0]
    model = cam[1].upper()
    if model not in _COLMAP_PINHOLE:
        raise IntrinsicsError(f'{path}: unknown COLMAP camera model '
                              f'"{cam[1]}".')
    try:
        width, height = int(cam[2]), int(cam[3])
        params = [float(v) for v in cam[4:]]
    except ValueError:
        raise IntrinsicsError(f'{path}: malformed camera line: '
                              f'{" ".join(cam)}')
    if len(params) != _COLMAP_NUM_PARAMS[model]:
        raise IntrinsicsError(
            f'{path}: COLMAP model {model} has '
            f'{_COLMAP_NUM_PARAMS[model]} parameters, got {len(params)}.')
    names = _COLMAP_PINHOLE[model]
    values = dict(zip(names, params))
    if 'f' in values:
        values['fx'] = values['fy'] = values.pop('f')
    if len(params) > len(names):
        warnings.warn(f'{path}: the lens distortion of the COLMAP {model} '
                      'camera is ignored (pinhole back-projection).')
    # COLMAP: pixel centres at +0.5; ours at integer coordinates
    values['cx'] -= 0.5
    values['cy'] -= 0.5
    return values, (height, width)


def load_intrinsics(path: PathLike,
                    image_size: Optional[Tuple[int, int]] = None,
                    camera_id: Optional[int] = None) -> Dict[str, float]:
    """Read pinhole intrinsics ``fx, fy, cx, cy`` (pixels) from a file.

    Args:
        path (str | PathLike): A text 3x3 K, a JSON camera or a COLMAP
            ``cameras.txt`` (see the module docstring).
        image_size (tuple[int, int], optional): (H, W) of the images. When
            the file names the size it was calibrated for and this differs,
            the intrinsics are scaled to it.
        camera_id (int, optional): COLMAP camera to use (default: first).

    Returns:
        dict: ``fx``, ``fy``, ``cx``, ``cy`` for ``image_size``.

    Raises:
        IntrinsicsError: If the file is missing or cannot be read; the
            message names the file.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise IntrinsicsError(f'{path}: camera intrinsics file not found.')
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as err:
        raise IntrinsicsError(f'{path}: cannot read it: {err}')
    size = None
    stripped = text.lstrip()
    if stripped.startswith(('{', '[')):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise IntrinsicsError(f'{path}: invalid JSON: {err}')
        values, size = _parse_json(data, path)
    elif re.search(r'[A-Za-z]{3,}', re.sub(r'#.*', '', text)):
        values, size = _parse_colmap(text, path, camera_id)
    else:
        numbers = re.split(r'[\s,;]+', re.sub(r'#.*', '', text).strip())
        try:
            values = _from_matrix([float(v) for v in numbers if v], path)
        except ValueError as err:
            if isinstance(err, IntrinsicsError):
                raise
            raise IntrinsicsError(f'{path}: not a 3x3 matrix of numbers.')
    if not (values['fx'] > 0 and values['fy'] > 0):
        raise IntrinsicsError(f'{path}: focal lengths must be positive, got '
                              f'fx={values["fx"]}, fy={values["fy"]}.')
    if size is not None and image_size is not None and tuple(
            image_size) != tuple(size):
        sy, sx = image_size[0] / size[0], image_size[1] / size[1]
        # scale in continuous coordinates (pixel centres at +0.5)
        values = dict(fx=values['fx'] * sx, fy=values['fy'] * sy,
                      cx=(values['cx'] + 0.5) * sx - 0.5,
                      cy=(values['cy'] + 0.5) * sy - 0.5)
    return values
