"""NYU Depth V2 from BTS / ZoeDepth file lists (``rgb depth focal`` lines)."""
from typing import List

from mmengine.logging import print_log

from mmzoe.registry import DATASETS
from .base_depth import ZoeBaseDepthDataset
from .utils.image_io import join_root, read_depth_png, read_rgb


@DATASETS.register_module()
class NYUEigenDataset(ZoeBaseDepthDataset):
    """NYU Depth V2 through the BTS file lists used by ZoeDepth.

    Each line of ``ann_file`` is ``rgb_path depth_path focal`` (e.g. the
    24,231-line ``nyudepthv2_train_files_with_gt.txt`` of the "sync" raw set
    or the 654-line ``nyudepthv2_test_files_with_gt.txt``). Paths may start
    with ``/`` (BTS train list) and are joined to ``data_prefix['img_path']``
    and ``data_prefix['depth_map_path']`` (each joined to ``data_root``).
    Depth PNGs are uint16 millimetres: ``metres = png / depth_scale``,
    0 = missing. A line whose depth is ``None`` is skipped for training (as
    BTS does); in test mode it is kept without ``gt_depth_map`` (metrics
    count it as skipped). The focal length is kept as ``focal`` in the data
    info (unused by ZoeDepth).

    Args:
        ann_file (str): the file list.
        depth_scale (float): PNG units per metre. Defaults to 1000.
        data_prefix (dict): ``img_path`` and ``depth_map_path`` folders.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(self,
                 ann_file: str,
                 depth_scale: float = 1000.0,
                 data_prefix: dict = dict(img_path='', depth_map_path=''),
                 backend_args: dict = None,
                 **kwargs) -> None:
        self.depth_scale = depth_scale
        self.backend_args = backend_args
        super().__init__(ann_file=ann_file, data_prefix=data_prefix,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        """Parse the file list."""
        img_root = self.data_prefix.get('img_path', '')
        depth_root = self.data_prefix.get('depth_map_path', img_root)
        data_list, skipped = [], 0
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                lines = f.readlines()
        except FileNotFoundError:
            raise FileNotFoundError(
                f'{self.ann_file}: NYU file list not found') from None
        for lineno, line in enumerate(lines, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2:
                raise ValueError(f'{self.ann_file}:{lineno}: expected '
                                 f'"rgb_path depth_path [focal]", got '
                                 f'{line.strip()!r}')
            info = dict(img_path=join_root(img_root, parts[0]))
            if len(parts) > 2:
                try:
                    info['focal'] = float(parts[2])
                except ValueError:
                    raise ValueError(f'{self.ann_file}:{lineno}: focal '
                                     f'{parts[2]!r} is not a number') from None
            if parts[1] == 'None':
                if not self.test_mode:
                    skipped += 1
                    continue
                info['depth_map_path'] = None
            else:
                info['depth_map_path'] = join_root(depth_root, parts[1])
            data_list.append(info)
        if not data_list:
            raise ValueError(f'{self.ann_file}: the file list has no usable '
                             'line')
        print_log(f'NYUEigenDataset: {len(data_list)} samples from '
                  f'{self.ann_file}' +
                  (f' ({skipped} lines without depth skipped)'
                   if skipped else ''), logger='current')
        return data_list

    def load_sample(self, data_info: dict) -> dict:
        """Read the RGB image and the depth PNG."""
        img = read_rgb(data_info['img_path'], self.backend_args)
        depth = None
        if data_info.get('depth_map_path'):
            depth = read_depth_png(data_info['depth_map_path'],
                                   self.depth_scale, self.backend_args)
        return self.make_results(data_info, img, depth)
