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
from mmseg.datasets.transforms import RandomFlip as MMSegRandomFlip

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
class ZoeRandomCrop(BaseTransform):
    """Random crop of the image and every map in ``seg_fields``.

    Args:
        crop_size (int | tuple[int, int]): output (h, w). An image smaller
            than this raises a ValueError naming the image.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]]) -> None:
        self.crop_size = _pair(crop_size, 'crop_size')

    @cache_randomness
    def _offsets(self, h: int, w: int) -> Tuple[int, int]:
        ch, cw = self.crop_size
        return (np.random.randint(0, h - ch + 1),
                np.random.randint(0, w - cw + 1))

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        ch, cw = self.crop_size
        if h < ch or w < cw:
            raise ValueError(
                f'{results.get("img_path", "<image>")}: image {(h, w)} is '
                f'smaller than crop_size {self.crop_size}')
        y0, x0 = self._offsets(h, w)
        results['img'] = results['img'][y0:y0 + ch, x0:x0 + cw].copy()
        for key in results.get('seg_fields', []):
            if results.get(key) is not None:
                results[key] = results[key][y0:y0 + ch, x0:x0 + cw].copy()
        results['img_shape'] = (ch, cw)
        results['crop_bbox'] = (y0, y0 + ch, x0, x0 + cw)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'


@TRANSFORMS.register_module()
class ZoeRandomFlip(MMSegRandomFlip):
    """Horizontal flip with p = 0.5 (ZoeDepth's default) of the image and
    every map in ``seg_fields`` (depth included).

    A thin default-setting subclass of mmseg's ``RandomFlip`` (which already
    flips all ``seg_fields``); ``type='RandomFlip'`` works the same.

    Args:
        prob (float): flip probability. Defaults to 0.5.
        direction (str): flip direction. Defaults to 'horizontal'.
        **kwargs: other ``RandomFlip`` arguments.
    """

    def __init__(self,
                 prob: float = 0.5,
                 direction: str = 'horizontal',
                 **kwargs) -> None:
        super().__init__(prob=prob, direction=direction, **kwargs)


@TRANSFORMS.register_module()
class ZoeResize(BaseTransform):
    """Resize the image (bilinear) and, optionally, the maps in
    ``seg_fields`` (nearest) to a fixed size.

    The default mmzoe pipelines do **not** use it: the data preprocessor
    resizes the image for the network and ground truth stays at full
    resolution. Use it for pipelines that must resize the ground truth too.

    Args:
        scale (int | tuple[int, int]): output size (h, w).
        resize_gt (bool): also resize the maps in ``seg_fields``.
            Defaults to True.
        interpolation (str): image interpolation. Defaults to 'bilinear'.
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 resize_gt: bool = True,
                 interpolation: str = 'bilinear') -> None:
        self.scale = _pair(scale, 'scale')
        if interpolation not in _INTERP:
            raise ValueError(f'interpolation must be one of {list(_INTERP)}')
        self.resize_gt = resize_gt
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        oh, ow = self.scale
        results['img'] = cv2.resize(
            results['img'], (ow, oh),
            interpolation=_INTERP[self.interpolation])
        if self.resize_gt:
            for key in results.get('seg_fields', []):
                if results.get(key) is not None:
                    results[key] = cv2.resize(
                        results[key], (ow, oh),
                        interpolation=cv2.INTER_NEAREST)
        results['img_shape'] = (oh, ow)
        results['scale_factor'] = (ow / w, oh / h)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'resize_gt={self.resize_gt})')
