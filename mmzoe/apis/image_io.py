"""Loading and checking the RGB images given to the inference API."""
import os
import os.path as osp
from typing import Optional, Union

import numpy as np

from mmzoe.datasets.utils.image_io import ImageLoadError, decode_rgb

PathLike = Union[str, os.PathLike]


def check_rgb_array(image: np.ndarray,
                    name: Optional[str] = None) -> np.ndarray:
    """Check that an array is an HxWx3 uint8 RGB image.

    Args:
        image (np.ndarray): The array to check.
        name (str, optional): How to call the input in error messages
            (e.g. ``'image 3 of the list'``).

    Returns:
        np.ndarray: The same image, C-contiguous.
    """
    what = name or 'image'
    if not isinstance(image, np.ndarray):
        raise ImageLoadError(f'{what}: expected a file path or an HxWx3 uint8 '
                             f'RGB numpy array, got {type(image).__name__}.')
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        raise ImageLoadError(
            f'{what}: got a grayscale array of shape {image.shape}; an HxWx3 '
            'RGB image is required (e.g. np.repeat(img[..., None], 3, 2)).')
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageLoadError(f'{what}: expected shape HxWx3 (RGB), got '
                             f'{image.shape}.')
    if image.dtype != np.uint8:
        raise ImageLoadError(
            f'{what}: expected dtype uint8 (0..255), got {image.dtype} with '
            f'shape {image.shape}.')
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ImageLoadError(f'{what}: image of shape {image.shape} is too '
                             'small.')
    return np.ascontiguousarray(image)


def load_rgb_image(path: PathLike) -> np.ndarray:
    """Read an image file as an HxWx3 uint8 RGB array.

    The rules are those of the datasets
    (:func:`mmzoe.datasets.utils.decode_rgb`): 8-bit RGB, RGBA (alpha
    dropped) and palette images are read, the EXIF orientation tag is
    applied (the array is upright as image viewers show it); grayscale,
    16-bit (colour or not), CMYK, missing and unreadable files raise
    :class:`ImageLoadError` naming the file.

    Args:
        path (str | PathLike): Image file.

    Returns:
        np.ndarray: HxWx3 uint8 RGB image.
    """
    path = os.fspath(path)
    if not osp.exists(path):
        raise ImageLoadError(f'{path}: image file not found.')
    if not osp.isfile(path):
        raise ImageLoadError(f'{path}: not a file.')
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        raise ImageLoadError(f'{path}: cannot read the file: {err}') from err
    return check_rgb_array(decode_rgb(data, path), name=path)
