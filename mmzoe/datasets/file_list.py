"""Depth datasets read from BTS / ZoeDepth file lists (``rgb depth focal``
lines): the common part of the NYU and KITTI Eigen-split datasets."""
from typing import List, Optional

from mmengine.logging import print_log

from .base_depth import ZoeBaseDepthDataset
from .utils.image_io import join_root, read_depth_png, read_rgb


class ZoeFileListDepthDataset(ZoeBaseDepthDataset):
    """RGB images and 16-bit depth PNGs listed one sample a line.

    Each line of ``ann_file`` is ``rgb_path depth_path focal``; ``rgb_path``
    is joined to ``data_prefix['img_path']`` and ``depth_path`` to
    ``data_prefix['depth_map_path']`` (both joined to ``data_root``; a
    leading ``/`` is ignored). ``metres = png / depth_scale``, 0 = invalid.
    A line whose depth is ``None`` is skipped for training; in test mode it
    is kept without ``gt_depth_map`` (the metric counts it as skipped). The
    focal length (pixels) is kept as ``focal`` in the data info and
    ``domain``, when given, is written into every sample.

    Subclasses name the list in error messages (``LIST_NAME``) and say
    whether the focal column is required (``FOCAL_REQUIRED``).

    Args:
        ann_file (str): The file list.
        depth_scale (float): PNG units per metre.
        data_prefix (dict): ``img_path`` and ``depth_map_path`` folders.
        domain (str, optional): Domain name written into every sample.
            Defaults to None (none written).
        backend_args (dict, optional): MMEngine file back-end arguments.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    LIST_NAME = 'depth'
    FOCAL_REQUIRED = False

    def __init__(self,
                 ann_file: str,
                 depth_scale: float,
                 data_prefix: dict = dict(img_path='', depth_map_path=''),
                 domain: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        if depth_scale <= 0:
            raise ValueError(f'depth_scale must be > 0, got {depth_scale}')
        self.depth_scale = float(depth_scale)
        self.domain = domain
        self.backend_args = backend_args
        super().__init__(ann_file=ann_file, data_prefix=data_prefix,
                         **kwargs)

    def _parse_line(self, parts: List[str], lineno: int, line: str) -> dict:
        """The data info of one line (without its depth path)."""
        if len(parts) < (3 if self.FOCAL_REQUIRED else 2):
            columns = 'focal' if self.FOCAL_REQUIRED else '[focal]'
            raise ValueError(f'{self.ann_file}:{lineno}: expected '
                             f'"rgb_path depth_path {columns}", got '
                             f'{line.strip()!r}')
        img_root = self.data_prefix.get('img_path', '')
        info = dict(img_path=join_root(img_root, parts[0]))
        if len(parts) > 2:
            try:
                info['focal'] = float(parts[2])
            except ValueError:
                raise ValueError(f'{self.ann_file}:{lineno}: focal '
                                 f'{parts[2]!r} is not a number') from None
        if self.domain is not None:
            info['domain'] = self.domain
        return info

    def load_data_list(self) -> List[dict]:
        """Parse the file list."""
        depth_root = self.data_prefix.get(
            'depth_map_path', self.data_prefix.get('img_path', ''))
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                lines = f.readlines()
        except FileNotFoundError:
            raise FileNotFoundError(
                f'{self.ann_file}: {self.LIST_NAME} file list not found'
            ) from None
        data_list, skipped = [], 0
        for lineno, line in enumerate(lines, 1):
            parts = line.split()
            if not parts:
                continue
            info = self._parse_line(parts, lineno, line)
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
        print_log(f'{type(self).__name__}: {len(data_list)} samples from '
                  f'{self.ann_file}' +
                  (f' ({skipped} lines without depth skipped)'
                   if skipped else ''), logger='current')
        return data_list

    def load_sample(self, data_info: dict) -> dict:
        """Read the RGB image and the 16-bit depth PNG (metres)."""
        img = read_rgb(data_info['img_path'], self.backend_args)
        depth = None
        if data_info.get('depth_map_path'):
            depth = read_depth_png(data_info['depth_map_path'],
                                   self.depth_scale, self.backend_args)
        return self.make_results(data_info, img, depth)
