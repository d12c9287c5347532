"""iBims-1 (100 indoor images) for zero-shot evaluation."""
import os.path as osp
from typing import List

import numpy as np
from mmengine.logging import print_log

from mmzoe.registry import DATASETS
from .base_depth import ZoeBaseDepthDataset
from .utils.image_io import read_depth_png, read_mask_png, read_rgb


@DATASETS.register_module()
class IBims1Dataset(ZoeBaseDepthDataset):
    """iBims-1 core set, from ``ibims1_core_raw`` or ``ibims1_core_mat``.

    ``raw`` layout (ZoeDepth's loader): ``data_root/imagelist.txt`` lists
    basenames; ``rgb/``, ``depth/``, ``mask_invalid/``, ``mask_transp/``
    hold ``<name>.png``. Depth = ``png * 50 / 65535`` metres.
    ``mat`` layout: ``data_root/<name>.mat`` with a ``data`` struct holding
    ``rgb``, ``depth`` (metres), ``mask_invalid`` and ``mask_transp``
    (read with :func:`scipy.io.loadmat`); ``imagelist.txt`` is looked up in
    ``data_root`` (or give ``ann_file``).

    In both layouts pixels with ``mask_invalid * mask_transp == 0`` (both
    masks are 1 = keep) become 0 = invalid. Evaluate with
    ``ZoeDepthMetric(min_depth=0, max_depth=10, crop='eigen')``
    (docs/upstream_facts.md, evaluation protocol).

    Args:
        ann_file (str): the image list. Defaults to ``'imagelist.txt'``.
        layout (str): ``'raw'`` or ``'mat'``. Defaults to ``'raw'``.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    DEPTH_SCALE = 65535.0 / 50.0  # png units per metre

    def __init__(self,
                 ann_file: str = 'imagelist.txt',
                 layout: str = 'raw',
                 backend_args: dict = None,
                 **kwargs) -> None:
        if layout not in ('raw', 'mat'):
            raise ValueError(f"layout must be 'raw' or 'mat', got {layout!r}")
        self.layout = layout
        self.backend_args = backend_args
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the image list."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{self.ann_file}: iBims-1 image list '
                                    'not found')
        with open(self.ann_file, encoding='utf-8') as f:
            names = f.read().split()
        if not names:
            raise ValueError(f'{self.ann_file}: empty iBims-1 image list')
        root = self.data_root or osp.dirname(self.ann_file)
        data_list = []
        for name in names:
            if self.layout == 'raw':
                data_list.append(
                    dict(
                        img_path=osp.join(root, 'rgb', f'{name}.png'),
                        depth_map_path=osp.join(root, 'depth',
                                                f'{name}.png'),
                        mask_invalid_path=osp.join(root, 'mask_invalid',
                                                   f'{name}.png'),
                        mask_transp_path=osp.join(root, 'mask_transp',
                                                  f'{name}.png'),
                        name=name))
            else:
                path = osp.join(root, f'{name}.mat')
                data_list.append(dict(img_path=path, name=name))
        print_log(f'IBims1Dataset: {len(data_list)} images ({self.layout} '
                  f'layout) from {self.ann_file}', logger='current')
        return data_list

    def _load_mat(self, path: str):
        from scipy.io import loadmat
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path}: iBims-1 .mat file not found')
        try:
            mat = loadmat(path)
        except Exception as e:
            raise ValueError(f'{path}: cannot read as a MATLAB file: {e}') \
                from e
        if 'data' not in mat:
            keys = sorted(k for k in mat if not k.startswith('__'))
            raise KeyError(f'{path}: no "data" struct (keys: {keys})')
        data = mat['data']
        fields = data.dtype.names or ()
        out = {}
        for key in ('rgb', 'depth', 'mask_invalid', 'mask_transp'):
            if key not in fields:
                raise KeyError(f'{path}: data struct has no field {key!r} '
                               f'(fields: {fields})')
            out[key] = np.asarray(data[key][0][0])
        return out

    def load_sample(self, data_info: dict) -> dict:
        """Read RGB, depth and both masks; masked pixels get depth 0."""
        if self.layout == 'raw':
            img = read_rgb(data_info['img_path'], self.backend_args)
            depth = read_depth_png(data_info['depth_map_path'],
                                   self.DEPTH_SCALE, self.backend_args)
            invalid = read_mask_png(data_info['mask_invalid_path'],
                                     self.backend_args)
            transp = read_mask_png(data_info['mask_transp_path'],
                                    self.backend_args)
            source = data_info['depth_map_path']
        else:
            source = data_info['img_path']
            fields = self._load_mat(source)
            img = fields['rgb']
            if img.dtype != np.uint8:
                raise ValueError(f'{source}: rgb must be uint8, got '
                                 f'{img.dtype}')
            depth = fields['depth'].astype(np.float32)
            invalid, transp = fields['mask_invalid'], fields['mask_transp']
        for name, mask in (('mask_invalid', invalid),
                           ('mask_transp', transp)):
            if mask.shape != depth.shape:
                raise ValueError(f'{source}: {name} shape {mask.shape} '
                                 f'differs from depth shape {depth.shape}')
        keep = (invalid.astype(np.float64) * transp.astype(np.float64)) != 0
        depth = np.where(keep & np.isfinite(depth), depth,
                         0).astype(np.float32)
        return self.make_results(data_info, np.ascontiguousarray(img), depth,
                                 source=source)
