"""Geometric transforms that keep image, depth and label maps aligned.

Every label-like map listed in ``results['seg_fields']`` follows the image
with nearest interpolation. Depth maps (``depth_fields``, by default
``gt_depth_map``) are filled with 0 (= invalid) and the other maps (labels)
with 255 (= ignore); the image is filled with 0 (black), as PIL does
upstream.
"""
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmzoe.registry import TRANSFORMS

_INTERP = dict(
    nearest=cv2.INTER_NEAREST, bilinear=cv2.INTER_LINEAR,
    bicubic=cv2.INTER_CUBIC, area=cv2.INTER_AREA)


def _pair(size: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f'{name} must be an int or (h, w), got {size}')
    return size


@TRANSFORMS.register_module()
class ZoeRandomRotate(BaseTransform):
    """Random rotation as in ZoeDepth: ``angle = (U[0,1) - 0.5) * 2 *
    degree`` degrees, counter-clockwise for positive angles (PIL's
    convention), about the image centre, output size unchanged.

    The image is interpolated bilinearly (filled with ``img_pad_val``), the
    maps in ``seg_fields`` with nearest neighbour; depth maps are filled
    with ``depth_pad_val`` (0 = invalid), other maps with ``seg_pad_val``
    (255 = ignore).

    Required keys: ``img``; optional: the maps in ``seg_fields``.
    Modified keys: ``img`` and those maps. Added key: ``rotate_angle``.

    Args:
        degree (float): maximum absolute angle. Defaults to 1.0 (NYU).
        prob (float): probability to rotate. Defaults to 1.0 (upstream
            always rotates when rotation is enabled).
        img_pad_val (float): image fill value. Defaults to 0.
        depth_pad_val (float): depth fill value. Defaults to 0.
        seg_pad_val (int): label fill value. Defaults to 255.
        depth_fields (Sequence[str]): names of the depth maps.
            Defaults to ``('gt_depth_map',)``.
        interpolation (str): image interpolation. Defaults to 'bilinear'.
    """

    def __init__(self,
                 degree: float = 1.0,
                 prob: float = 1.0,
                 img_pad_val: float = 0,
                 depth_pad_val: float = 0,
                 seg_pad_val: int = 255,
                 depth_fields: Sequence[str] = ('gt_depth_map', ),
                 interpolation: str = 'bilinear') -> None:
        if degree < 0:
            raise ValueError(f'degree must be >= 0, got {degree}')
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if interpolation not in _INTERP:
            raise ValueError(f'interpolation must be one of {list(_INTERP)}')
        self.degree = degree
        self.prob = prob
        self.img_pad_val = img_pad_val
        self.depth_pad_val = depth_pad_val
        self.seg_pad_val = seg_pad_val
        self.depth_fields = tuple(depth_fields)
        self.interpolation = interpolation

    @cache_randomness
    def _random_angle(self) -> Optional[float]:
        if np.random.rand() >= self.prob:
            return None
        return float((np.random.rand() - 0.5) * 2 * self.degree)

    @staticmethod
    def rotate(arr: np.ndarray, angle: float, interp: int,
               fill: float) -> np.ndarray:
        """Rotate ``arr`` (HxW or HxWxC) by ``angle`` degrees
        counter-clockwise about its centre, keeping its size."""
        h, w = arr.shape[:2]
        mat = cv2.getRotationMatrix2D(((w - 1) * 0.5, (h - 1) * 0.5), angle,
                                      1.0)
        channels = arr.shape[2] if arr.ndim == 3 else 1
        border = (fill, ) * min(channels, 4)
        out = cv2.warpAffine(arr, mat, (w, h), flags=interp,
                             borderMode=cv2.BORDER_CONSTANT,
                             borderValue=border)
        return out.reshape(arr.shape)

    def transform(self, results: dict) -> dict:
        angle = self._random_angle()
        if angle is None:
            return results
        results['img'] = self.rotate(results['img'], angle,
                                     _INTERP[self.interpolation],
                                     self.img_pad_val)
        for key in results.get('seg_fields', []):
            if results.get(key) is None:
                continue
            fill = self.depth_pad_val if key in self.depth_fields \
                else self.seg_pad_val
            results[key] = self.rotate(results[key], angle,
                                       cv2.INTER_NEAREST, fill)
        results['rotate_angle'] = angle
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(degree={self.degree}, '
                f'prob={self.prob}, depth_pad_val={self.depth_pad_val}, '
                f'seg_pad_val={self.seg_pad_val})')


@TRANSFORMS.register_module()
class ZoeResize(BaseTransform):
    """Resize the image only (the ground truth keeps its size).

    For pipelines whose model needs a fixed input size while evaluation
    compares at the full ground-truth resolution (a plain mmseg model with
    ``SegDataPreProcessor``, which pads but does not resize). To resize the
    ground truth together with the image use mmseg's ``Resize`` (nearest
    for every map in ``seg_fields``, depth included). The mmzoe depth
    configs need neither: ``ZoeDepthDataPreProcessor`` resizes the image
    for the network.

    Args:
        scale (int | tuple[int, int]): output size (h, w).
        interpolation (str): image interpolation. Defaults to 'bilinear'.
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 interpolation: str = 'bilinear') -> None:
        self.scale = _pair(scale, 'scale')
        if interpolation not in _INTERP:
            raise ValueError(f'interpolation must be one of {list(_INTERP)}')
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        oh, ow = self.scale
        results['img'] = cv2.resize(
            results['img'], (ow, oh),
            interpolation=_INTERP[self.interpolation])
        results['img_shape'] = (oh, ow)
        results['scale_factor'] = (ow / w, oh / h)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(scale={self.scale})'
