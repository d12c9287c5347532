"""The BTS export of one NYU Depth V2 labeled frame (``official_splits``).

Published NYU numbers (BTS, AdaBins, NeWCRFs, ZoeDepth, ...) were computed on
the files that BTS's extraction script writes from
``nyu_depth_v2_labeled.mat``, not on the ``.mat`` arrays. For each frame the
export:

- takes the RGB image (480x640, MATLAB orientation), keeps rows 7..473 and
  columns 7..631 (``[7:474, 7:632]``) and sets everything else to black
  (this covers NYU's white undistortion border),
- writes it as a JPEG with OpenCV's encoder and default settings (quality
  95); the array handed to OpenCV is in OpenCV's BGR order, so the file holds
  the true colours and any RGB loader reads them back unswapped,
- writes ``rawDepths`` (metres, float32 as h5py reads it) times 1000 cast to
  uint16 (truncation = floor for the non-negative depths: whole
  millimetres; the product is float32, so e.g. 9.99 m gives 9990 mm, where a
  float64 product would give 9989) as a 16-bit PNG.

A loader then gets ``rgb`` = the decoded JPEG and depth = ``png / 1000``
metres. :func:`bts_encode_frame` produces the two files' bytes,
:func:`bts_decode_frame` reads them back with the readers of mmzoe's
image-file datasets (``decode_rgb``, ``decode_depth_png``: uint16 / 1000 in
float32), so a sample
of ``NYUv2LabeledDataset(bts_export=True)`` equals what
``NYUEigenDataset`` reads from the converted folder
(``tools/dataset_converters/nyu_labeled_to_bts.py``), bit for bit.
"""
from typing import Tuple

import cv2
import numpy as np

from .image_io import decode_depth_png, decode_rgb

#: Rows / columns ``[start, stop)`` of the RGB image the export keeps.
BTS_RGB_ROWS = (7, 474)
BTS_RGB_COLS = (7, 632)
#: Frame size the export is defined on (rows, columns).
BTS_FRAME_SHAPE = (480, 640)
#: Depth PNG units per metre (millimetres).
BTS_DEPTH_SCALE = 1000.0
#: Focal length written in BTS's NYU file lists (unused by ZoeDepth).
BTS_NYU_FOCAL = 518.8579


def _check_frame(rgb: np.ndarray, depth: np.ndarray, source: str) -> None:
    if rgb.shape != BTS_FRAME_SHAPE + (3, ) or rgb.dtype != np.uint8:
        raise ValueError(
            f'{source}: the BTS export is defined on 480x640x3 uint8 RGB '
            f'frames, got shape {rgb.shape} dtype {rgb.dtype}')
    if depth.shape != BTS_FRAME_SHAPE:
        raise ValueError(f'{source}: the BTS export needs a 480x640 depth '
                         f'map, got shape {depth.shape}')
    if not np.isfinite(depth).all() or (depth < 0).any() or \
            depth.max(initial=0) * BTS_DEPTH_SCALE > 65535:
        raise ValueError(f'{source}: depth must be finite, >= 0 and below '
                         '65.535 m to be stored as uint16 millimetres')


def bts_black_border(rgb: np.ndarray) -> np.ndarray:
    """A copy of ``rgb`` (480x640x3) with everything outside
    ``[7:474, 7:632]`` set to 0."""
    out = np.zeros_like(rgb)
    (r0, r1), (c0, c1) = BTS_RGB_ROWS, BTS_RGB_COLS
    out[r0:r1, c0:c1] = rgb[r0:r1, c0:c1]
    return out


def bts_depth_millimetres(depth: np.ndarray) -> np.ndarray:
    """``depth`` (metres) as the export's uint16 millimetres: the float32
    product with 1000, truncated."""
    return (np.asarray(depth, np.float32) * np.float32(BTS_DEPTH_SCALE)
            ).astype(np.uint16)


def bts_encode_frame(rgb: np.ndarray,
                     depth: np.ndarray,
                     source: str = 'frame') -> Tuple[bytes, bytes]:
    """The bytes of the export's ``rgb_XXXXX.jpg`` / ``sync_depth_XXXXX.png``.

    Args:
        rgb (np.ndarray): 480x640x3 uint8 RGB image (the ``.mat`` array).
        depth (np.ndarray): 480x640 depth in metres (``rawDepths``).
        source (str): name used in error messages.

    Returns:
        tuple[bytes, bytes]: JPEG (OpenCV defaults, quality 95) and 16-bit
        PNG file contents.
    """
    rgb = np.asarray(rgb)
    depth = np.asarray(depth)
    _check_frame(rgb, depth, source)
    bgr = np.ascontiguousarray(bts_black_border(rgb)[..., ::-1])
    ok_jpg, jpg = cv2.imencode('.jpg', bgr)
    ok_png, png = cv2.imencode('.png', bts_depth_millimetres(depth))
    if not (ok_jpg and ok_png):  # pragma: no cover - OpenCV failure
        raise RuntimeError(f'{source}: OpenCV could not encode the frame')
    return jpg.tobytes(), png.tobytes()


def bts_decode_frame(jpg: bytes,
                     png: bytes,
                     source: str = 'frame') -> Tuple[np.ndarray, np.ndarray]:
    """Read the export's two files back as mmzoe's file datasets do.

    Args:
        jpg (bytes): ``rgb_XXXXX.jpg`` contents.
        png (bytes): ``sync_depth_XXXXX.png`` contents.
        source (str): name used in error messages.

    Returns:
        tuple[np.ndarray, np.ndarray]: HxWx3 uint8 RGB and HxW float32
        metres (0 = missing).
    """
    return (decode_rgb(jpg, f'{source} (JPEG)'),
            decode_depth_png(png, f'{source} (depth PNG)', BTS_DEPTH_SCALE))


def bts_export_sample(rgb: np.ndarray,
                      depth: np.ndarray,
                      source: str = 'frame') -> Tuple[np.ndarray, np.ndarray]:
    """RGB and depth of one frame exactly as the BTS export's files read
    back: black border, JPEG round trip, whole millimetres.

    Args:
        rgb (np.ndarray): 480x640x3 uint8 RGB image.
        depth (np.ndarray): 480x640 depth in metres.
        source (str): name used in error messages.

    Returns:
        tuple[np.ndarray, np.ndarray]: RGB uint8 and depth float32 metres.
    """
    return bts_decode_frame(*bts_encode_frame(rgb, depth, source), source)
