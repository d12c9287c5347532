"""Loading helpers: RGB images, 16-bit depth PNGs with a scale, label PNGs.

All readers go through :func:`mmengine.fileio.get` (so file back-ends work)
and raise errors that name the file. :func:`decode_rgb` is the one rule for
colour images, shared by the datasets (:func:`read_rgb`) and the inference
API (``mmzoe.apis.load_rgb_image``, ``tools/infer.py``).
"""
import io
import os
import os.path as osp
from typing import Optional, Union

import mmcv
import numpy as np
from mmengine import fileio


def _get_bytes(path: str, what: str,
               backend_args: Optional[dict] = None) -> bytes:
    try:
        return fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'{path}: {what} file not found') from e
    except OSError as e:
        raise OSError(f'{path}: cannot read {what} file: {e}') from e


def _decode(data: bytes, path: str, what: str, flag: str) -> np.ndarray:
    try:
        arr = mmcv.imfrombytes(data, flag=flag, channel_order='rgb',
                               backend='cv2')
    except Exception as e:  # cv2 raises various errors on garbage
        raise ValueError(f'{path}: cannot decode {what} image: {e}') from e
    if arr is None:
        raise ValueError(f'{path}: cannot decode {what} image (corrupt or '
                         'not an image file)')
    return arr


class ImageLoadError(ValueError):
    """An input image is missing, unreadable or not an 8-bit colour image."""


_GRAY_MODES = ('L', 'LA', 'La', '1', 'I', 'I;16', 'I;16B', 'I;16L',
               'I;16N', 'F')


def _sixteen_bit(img) -> bool:
    """Whether PIL decodes ``img`` from 16 bits per channel (PIL would
    silently keep only the high byte of a 16-bit RGB PNG/TIFF/PPM)."""
    for tile in getattr(img, 'tile', None) or ():
        args = tile[-1] if isinstance(tile, tuple) else None
        raw = args if isinstance(args, str) else (
            args[0] if isinstance(args, tuple) and args else '')
        if isinstance(raw, str) and ';16' in raw:
            return True
    return False


def decode_rgb(data: bytes, name: str) -> np.ndarray:
    """Decode image file bytes as HxWx3 uint8 **RGB** (the one image rule).

    Accepted: 8-bit RGB, RGBA (alpha dropped) and palette images (expanded
    to RGB), in any format PIL reads; the EXIF orientation tag is applied
    (the array is upright as image viewers show it). Refused with
    :class:`ImageLoadError` naming the file: grayscale / single-channel
    images (8 or 16 bit; they are not replicated to three channels), 16-bit
    colour images (not reduced to 8 bit), CMYK and other modes, and
    undecodable data.

    Args:
        data (bytes): The file's bytes.
        name (str): The file (path or URI), for the messages.

    Returns:
        np.ndarray: HxWx3 uint8 RGB image, C-contiguous.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as img:
            mode = img.mode
            size = f'{img.size[0]}x{img.size[1]}'
            if mode in _GRAY_MODES:
                raise ImageLoadError(
                    f'{name}: grayscale/single-channel image (PIL mode '
                    f'"{mode}", size {size}); an 8-bit RGB colour image is '
                    'required.')
            if _sixteen_bit(img):
                raise ImageLoadError(
                    f'{name}: 16-bit colour image (size {size}); an 8-bit '
                    'RGB colour image is required (convert it, e.g. keep '
                    'the high byte: (img >> 8).astype(np.uint8)).')
            img.load()
            img = ImageOps.exif_transpose(img)
            if mode == 'P':
                img = img.convert('RGBA' if 'transparency' in img.info else
                                  'RGB')
                mode = img.mode
            if mode == 'RGBA':
                img = img.convert('RGB')
            elif mode != 'RGB':
                raise ImageLoadError(
                    f'{name}: unsupported image mode "{mode}"; an 8-bit RGB '
                    'colour image is required.')
            array = np.array(img, dtype=np.uint8)  # writable copy
    except ImageLoadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(
            f'{name}: cannot read the image (corrupt or not an image '
            f'file): {err}') from err
    if array.ndim != 3 or array.shape[2] != 3:
        raise ImageLoadError(f'{name}: decoded to shape {array.shape}; an '
                             '8-bit RGB colour image is required.')
    return np.ascontiguousarray(array)


def read_rgb(path: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """Read an image file as HxWx3 uint8 **RGB** (rules of
    :func:`decode_rgb`).

    Args:
        path (str): image path.
        backend_args (dict, optional): mmengine file back-end arguments.
    """
    return decode_rgb(_get_bytes(path, 'RGB', backend_args), path)


def decode_depth_png(data: bytes, name: str,
                     scale: float = 1000.0) -> np.ndarray:
    """Decode the bytes of a single-channel 16-bit depth PNG as metres.

    ``metres = value / scale`` (float32); 0 stays 0 (= missing). The one
    rule for depth files: the datasets, the BTS-export emulation, the tools
    and tests all read depth through it.

    Args:
        data (bytes): The file's bytes.
        name (str): The file (path or URI), for the messages.
        scale (float): Stored units per metre (1000 for millimetres).
            Defaults to 1000.

    Returns:
        np.ndarray: HxW float32 depth in metres.
    """
    if scale <= 0:
        raise ValueError(f'depth scale must be > 0, got {scale}')
    arr = _decode(data, name, 'depth', 'unchanged')
    if arr.ndim != 2:
        raise ValueError(f'{name}: a depth PNG must have one channel, got '
                         f'shape {arr.shape}')
    if arr.dtype != np.uint16:
        raise ValueError(f'{name}: a depth PNG must be 16-bit (uint16 '
                         f'{1000.0 / scale:g} mm units), got {arr.dtype}')
    return (arr.astype(np.float32) / np.float32(scale)).astype(np.float32)


def read_depth_png(path: Union[str, os.PathLike],
                   scale: float = 1000.0,
                   backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a single-channel 16-bit depth PNG as metres
    (:func:`decode_depth_png`).

    Args:
        path (str | PathLike): depth PNG path.
        scale (float): stored units per metre (1000 for millimetres).
            Defaults to 1000.
        backend_args (dict, optional): mmengine file back-end arguments.

    Returns:
        np.ndarray: HxW float32 depth in metres.
    """
    path = os.fspath(path)
    return decode_depth_png(_get_bytes(path, 'depth', backend_args), path,
                            scale)


def read_label_png(path: str,
                   backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a single-channel uint8 label PNG (class ids, 255 = ignore)."""
    arr = _decode(_get_bytes(path, 'label', backend_args), path, 'label',
                  'unchanged')
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise ValueError(f'{path}: label PNG must be single-channel uint8, '
                         f'got shape {arr.shape} dtype {arr.dtype}')
    return arr


def read_mask_png(path: str,
                  backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a single-channel mask PNG (any integer depth); non-zero = set."""
    arr = _decode(_get_bytes(path, 'mask', backend_args), path, 'mask',
                  'unchanged')
    if arr.ndim != 2:
        raise ValueError(f'{path}: mask PNG must have one channel, got '
                         f'shape {arr.shape}')
    return arr != 0


def join_root(root: Optional[str], path: str) -> str:
    """Join ``root`` and ``path``, ignoring leading slashes of ``path``
    (BTS file lists write ``/scene/rgb_00000.jpg``)."""
    if not root:
        return path
    return osp.join(root, path.lstrip('/'))
