"""The KITTI benchmark crop (352x1216, bottom-centred)."""
from mmcv.transforms import BaseTransform

from mmzoe.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ZoeKBCrop(BaseTransform):
    """Crop image and maps to the KITTI benchmark window ("KB crop").

    KITTI raw frames are about 375x1242 (it varies slightly between
    recording days). The window keeps the bottom ``height`` rows and the
    ``width`` central columns: ``top = H - height``, ``left = (W - width)
    // 2`` (upstream ZoeDepth / BTS ``do_kb_crop``). The image and every map
    in ``seg_fields`` (depth included) are cropped; ``img_shape`` and
    ``ori_shape`` become the window size, so predictions are made and
    evaluated on the cropped frame (as upstream). ``kb_crop_box`` =
    ``(top, bottom, left, right)`` is added.

    Args:
        height (int): Window height. Defaults to 352.
        width (int): Window width. Defaults to 1216.
    """

    def __init__(self, height: int = 352, width: int = 1216) -> None:
        if height <= 0 or width <= 0:
            raise ValueError(f'height and width must be > 0, got {height}, '
                             f'{width}')
        self.height = int(height)
        self.width = int(width)

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        if h < self.height or w < self.width:
            raise ValueError(
                f'{results.get("img_path", "<image>")}: image {h}x{w} is '
                f'smaller than the KB crop {self.height}x{self.width}')
        top = h - self.height
        left = (w - self.width) // 2
        box = (top, top + self.height, left, left + self.width)
        results['img'] = results['img'][box[0]:box[1], box[2]:box[3]].copy()
        for key in results.get('seg_fields', []):
            value = results.get(key)
            if value is not None:
                if value.shape[:2] != (h, w):
                    raise ValueError(
                        f'{results.get("img_path", "<image>")}: {key} '
                        f'shape {value.shape[:2]} differs from the image '
                        f'shape {(h, w)}')
                results[key] = value[box[0]:box[1], box[2]:box[3]].copy()
        results['img_shape'] = (self.height, self.width)
        results['ori_shape'] = (self.height, self.width)
        results['kb_crop_box'] = box
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(height={self.height}, '
                f'width={self.width})')
