"""Common base of mmzoe's depth datasets.

The dataset reads a sample; the pipeline after it is made of ordinary
transforms ending in ``PackSegInputs``.
"""
from typing import Optional

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.registry import DefaultScope

from mmzoe.utils.seeding import seeded_rng

from .utils.nyu_meta import NYU13_PALETTE, nyu13_class_names


class ZoeBaseDepthDataset(BaseDataset):
    """Base class: :meth:`load_sample` turns a data-info dict into the
    results dict of the mmzoe data contract, then the pipeline runs.

    Results given to the pipeline:

    - ``img``: HxWx3 uint8 **RGB**; ``img_shape``/``ori_shape`` = (H, W),
    - ``gt_depth_map``: HxW float32 metres, 0 = invalid (absent if the
      sample has no depth, e.g. a test list line with ``None``),
    - ``gt_seg_map`` (optional): HxW uint8 class ids, 255 = ignore,
    - ``seg_fields``: the label-like maps present (``gt_seg_map``,
      ``gt_depth_map``) so geometric transforms treat them as maps.

    Metainfo: the 14 NYU classes and their palette (datasets without labels
    keep them, so models trained on NYU labels read the same metainfo).
    """

    METAINFO = dict(
        classes=nyu13_class_names(), palette=[list(c) for c in NYU13_PALETTE])

    def __init__(self, *args, **kwargs) -> None:
        # Build the pipeline in the mmzoe scope when no scope is set (a
        # dataset built outside a Runner still finds mmzoe/mmseg transforms).
        scope = None if DefaultScope.get_current_instance() else 'mmzoe'
        with DefaultScope.overwrite_default_scope(scope):
            super().__init__(*args, **kwargs)

    def load_sample(self, data_info: dict) -> dict:
        """Read the sample described by ``data_info`` (to be overridden)."""
        raise NotImplementedError

    def prepare_data(self, idx: int):
        """Read sample ``idx`` and run the pipeline on it.

        An index that carries a seed (:class:`mmzoe.utils.seeding.SeededIndex`,
        given by mmzoe's training loop) runs the pipeline under RNGs seeded
        with it, so its augmentation draws do not depend on the process or on
        what that process drew before.
        """
        seed = getattr(idx, 'seed', None)
        data_info = self.get_data_info(int(idx))
        if seed is None:
            return self.pipeline(self.load_sample(data_info))
        with seeded_rng(seed):
            return self.pipeline(self.load_sample(data_info))

    @staticmethod
    def make_results(data_info: dict,
                     img: np.ndarray,
                     depth: Optional[np.ndarray],
                     seg: Optional[np.ndarray] = None,
                     source: str = '') -> dict:
        """Assemble (and check) the results dict of one sample.

        Args:
            data_info (dict): the data-info dict (copied into the result).
            img (np.ndarray): HxWx3 uint8 RGB.
            depth (np.ndarray, optional): HxW float32 metres, 0 = invalid.
            seg (np.ndarray, optional): HxW uint8 labels, 255 = ignore.
            source (str): file name used in error messages.
        """
        source = source or str(data_info.get('img_path', '<sample>'))
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f'{source}: image must be HxWx3 uint8, got '
                             f'shape {img.shape} dtype {img.dtype}')
        h, w = img.shape[:2]
        results = dict(data_info)
        results['img'] = img
        results['img_shape'] = (h, w)
        results['ori_shape'] = (h, w)
        results['seg_fields'] = []
        if seg is not None:
            if seg.shape != (h, w):
                raise ValueError(f'{source}: label map shape {seg.shape} '
                                 f'differs from the image shape {(h, w)}')
            results['gt_seg_map'] = seg.astype(np.uint8, copy=False)
            results['seg_fields'].append('gt_seg_map')
        if depth is not None:
            if depth.shape != (h, w):
                raise ValueError(f'{source}: depth shape {depth.shape} '
                                 f'differs from the image shape {(h, w)}')
            depth = depth.astype(np.float32, copy=False)
            if not np.isfinite(depth).all():
                raise ValueError(f'{source}: depth holds NaN/inf values')
            results['gt_depth_map'] = depth
            results['seg_fields'].append('gt_depth_map')
        return results
