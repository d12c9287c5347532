"""Generic custom dataset: RGB images + 16-bit depth PNGs (+ label PNGs)."""
import os
import os.path as osp
from typing import List, Optional

from mmengine.logging import print_log

from mmzoe.registry import DATASETS
from .base_depth import ZoeBaseDepthDataset
from .utils.image_io import (join_root, read_depth_png, read_label_png,
                             read_rgb)


@DATASETS.register_module()
class ZoeDepthFolderDataset(ZoeBaseDepthDataset):
    """Custom metric-depth dataset from folders of files.

    The documented path for fine-tuning on your own data. Layout::

        data_root/
          images/xxx.jpg          RGB (any format cv2 reads)
          depths/xxx.png          single-channel uint16, metres * depth_scale
          labels/xxx.png          optional uint8 class ids, 255 = ignore
          train.txt               optional file list

    With ``ann_file`` each non-empty line is ``image depth [label]``
    (relative to the ``data_prefix`` folders; ``#`` starts a comment).
    Without it, every file in ``data_prefix['img_path']`` with
    ``img_suffix`` is paired with ``<stem><depth_suffix>`` in
    ``data_prefix['depth_map_path']`` (and ``<stem><seg_suffix>`` in
    ``data_prefix['seg_map_path']`` if that key is given); a missing partner
    is an error naming the file. Depth 0 = invalid. Without labels the
    results have no ``gt_seg_map`` (the auxiliary segmentation head must then
    be disabled, or it sees no labels).

    Args:
        ann_file (str): optional file list. Defaults to ``''``.
        depth_scale (float): PNG units per metre (1000 = millimetres).
        img_suffix (str): image suffix for folder scanning.
        depth_suffix (str): depth suffix for folder scanning.
        seg_suffix (str): label suffix for folder scanning.
        data_prefix (dict): ``img_path``, ``depth_map_path`` and optionally
            ``seg_map_path`` folders.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(self,
                 ann_file: str = '',
                 depth_scale: float = 1000.0,
                 img_suffix: str = '.jpg',
                 depth_suffix: str = '.png',
                 seg_suffix: str = '.png',
                 data_prefix: dict = dict(
                     img_path='images', depth_map_path='depths'),
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        self.depth_scale = depth_scale
        self.img_suffix = img_suffix
        self.depth_suffix = depth_suffix
        self.seg_suffix = seg_suffix
        self.backend_args = backend_args
        super().__init__(ann_file=ann_file, data_prefix=data_prefix,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the file list or scan the image folder."""
        img_dir = self.data_prefix.get('img_path', '')
        depth_dir = self.data_prefix.get('depth_map_path', '')
        seg_dir = self.data_prefix.get('seg_map_path')
        data_list = []
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(f'{self.ann_file}: file list not '
                                        'found')
            with open(self.ann_file, encoding='utf-8') as f:
                for lineno, line in enumerate(f, 1):
                    parts = line.split('#')[0].split()
                    if not parts:
                        continue
                    if len(parts) not in (2, 3):
                        raise ValueError(
                            f'{self.ann_file}:{lineno}: expected "image '
                            f'depth [label]", got {line.strip()!r}')
                    info = dict(
                        img_path=join_root(img_dir, parts[0]),
                        depth_map_path=join_root(depth_dir, parts[1]))
                    if len(parts) == 3:
                        info['seg_map_path'] = join_root(
                            seg_dir if seg_dir is not None else img_dir,
                            parts[2])
                    data_list.append(info)
        else:
            if not osp.isdir(img_dir):
                raise FileNotFoundError(f'{img_dir}: image folder not found')
            for fname in sorted(os.listdir(img_dir)):
                if not fname.endswith(self.img_suffix):
                    continue
                stem = fname[:-len(self.img_suffix)]
                info = dict(
                    img_path=osp.join(img_dir, fname),
                    depth_map_path=osp.join(depth_dir,
                                            stem + self.depth_suffix))
                if not osp.isfile(info['depth_map_path']):
                    raise FileNotFoundError(
                        f'{info["depth_map_path"]}: depth file for '
                        f'{info["img_path"]} not found')
                if seg_dir is not None:
                    info['seg_map_path'] = osp.join(seg_dir,
                                                    stem + self.seg_suffix)
                    if not osp.isfile(info['seg_map_path']):
                        raise FileNotFoundError(
                            f'{info["seg_map_path"]}: label file for '
                            f'{info["img_path"]} not found')
                data_list.append(info)
        if not data_list:
            raise ValueError(
                f'{self.ann_file or img_dir}: no sample found (suffix '
                f'{self.img_suffix!r})')
        print_log(f'ZoeDepthFolderDataset: {len(data_list)} samples from '
                  f'{self.ann_file or img_dir}', logger='current')
        return data_list

    def load_sample(self, data_info: dict) -> dict:
        """Read RGB, depth and the optional label map."""
        img = read_rgb(data_info['img_path'], self.backend_args)
        depth = read_depth_png(data_info['depth_map_path'], self.depth_scale,
                               self.backend_args)
        seg = None
        if data_info.get('seg_map_path'):
            seg = read_label_png(data_info['seg_map_path'], self.backend_args)
        return self.make_results(data_info, img, depth, seg,
                                 source=data_info['depth_map_path'])
