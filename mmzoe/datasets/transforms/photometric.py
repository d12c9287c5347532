"""ZoeDepth's colour augmentation."""
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmzoe.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ZoeColorAug(BaseTransform):
    """Colour augmentation of ZoeDepth (applied with probability ``prob``).

    On ``x = img / 255`` (float): ``x = x ** gamma`` with gamma ~
    U(gamma_range); ``x *= brightness`` with brightness ~
    U(brightness_range) (U(0.75, 1.25) for NYU, U(0.9, 1.1) for other
    datasets upstream); ``x *= c`` per channel with c ~ U(color_range);
    clip to [0, 1].

    The output stays **uint8** (``round(x * 255)``) so the data contract
    (``img`` HxWx3 uint8 RGB, the preprocessor divides by 255) holds; the
    quantisation error is at most 0.5/255 against upstream's float image.

    Args:
        prob (float): probability to augment. Defaults to 0.5.
        gamma_range (Sequence[float]): Defaults to (0.9, 1.1).
        brightness_range (Sequence[float]): Defaults to (0.75, 1.25).
        color_range (Sequence[float]): Defaults to (0.9, 1.1).
    """

    def __init__(self,
                 prob: float = 0.5,
                 gamma_range: Sequence[float] = (0.9, 1.1),
                 brightness_range: Sequence[float] = (0.75, 1.25),
                 color_range: Sequence[float] = (0.9, 1.1)) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        for name, rng in (('gamma_range', gamma_range),
                          ('brightness_range', brightness_range),
                          ('color_range', color_range)):
            if len(rng) != 2 or rng[0] > rng[1] or rng[0] <= 0:
                raise ValueError(f'{name} must be (low, high) with '
                                 f'0 < low <= high, got {rng}')
        self.prob = prob
        self.gamma_range = tuple(gamma_range)
        self.brightness_range = tuple(brightness_range)
        self.color_range = tuple(color_range)

    @cache_randomness
    def _params(self, channels: int) -> Optional[tuple]:
        if np.random.rand() >= self.prob:
            return None
        gamma = np.random.uniform(*self.gamma_range)
        brightness = np.random.uniform(*self.brightness_range)
        colors = np.random.uniform(*self.color_range, size=channels)
        return gamma, brightness, colors

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.dtype != np.uint8:
            raise TypeError(f'{results.get("img_path", "<image>")}: '
                            f'ZoeColorAug expects a uint8 image, got '
                            f'{img.dtype}')
        params = self._params(img.shape[2])
        if params is None:
            return results
        gamma, brightness, colors = params
        x = img.astype(np.float32) / 255.0
        x = np.power(x, np.float32(gamma)) * np.float32(brightness)
        x = x * colors.astype(np.float32)[None, None, :]
        x = np.clip(x, 0.0, 1.0)
        results['img'] = np.round(x * 255.0).astype(np.uint8)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'gamma_range={self.gamma_range}, '
                f'brightness_range={self.brightness_range}, '
                f'color_range={self.color_range})')
