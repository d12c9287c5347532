"""KITTI (Eigen split) from BTS / ZoeDepth file lists."""
from typing import List

from mmengine.logging import print_log

from mmzoe.registry import DATASETS
from .base_depth import ZoeBaseDepthDataset
from .utils.image_io import join_root, read_depth_png, read_rgb


@DATASETS.register_module()
class ZoeKITTIDataset(ZoeBaseDepthDataset):
    """KITTI raw images with the annotated depth maps of the KITTI depth
    benchmark (sparse: LiDAR scans projected into the camera), through the
    BTS file lists ZoeDepth uses.

    Each line of ``ann_file`` is ``rgb_path depth_path focal`` (the
    23,158-line ``kitti_eigen_train_files_with_gt.txt`` and the 697-line
    ``kitti_eigen_test_files_with_gt.txt``), e.g.::

        2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000069.png \
2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_02/0000000069.png \
721.5377

    ``rgb_path`` is joined to ``data_prefix['img_path']`` (the KITTI raw
    folders ``<date>/<drive>_sync/image_0{2,3}/data``) and ``depth_path`` to
    ``data_prefix['depth_map_path']`` (the KITTI depth benchmark's
    ``<drive>_sync/proj_depth/groundtruth/image_0{2,3}``), both joined to
    ``data_root``; a leading ``/`` is ignored. Depth PNGs are uint16:
    ``metres = png / depth_scale`` (256), 0 = no LiDAR point (invalid).
    A line whose depth is ``None`` (no ground truth for that frame) is
    skipped for training; in test mode it is kept without ``gt_depth_map``
    (the metric counts it as skipped, as upstream). The focal length (pixels)
    is kept as ``focal`` in the data info; ``domain`` is ``'kitti'`` (what
    ZoeDepth-NK's router loss reads).

    Crops are transforms: :class:`ZoeKBCrop` (352x1216, bottom-centred, in
    training and test pipelines as upstream) and the Garg / Eigen
    evaluation windows of ``ZoeDepthMetric`` (``crop='garg'`` or
    ``'kitti_eigen'``).

    Args:
        ann_file (str): The file list.
        depth_scale (float): PNG units per metre. Defaults to 256.
        data_prefix (dict): ``img_path`` and ``depth_map_path`` folders.
        domain (str): Domain name written into every sample.
            Defaults to 'kitti'.
        backend_args (dict, optional): MMEngine file back-end arguments.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(self,
                 ann_file: str,
                 depth_scale: float = 256.0,
                 data_prefix: dict = dict(img_path='', depth_map_path=''),
                 domain: str = 'kitti',
                 backend_args: dict = None,
                 **kwargs) -> None:
        if depth_scale <= 0:
            raise ValueError(f'depth_scale must be > 0, got {depth_scale}')
        self.depth_scale = float(depth_scale)
        self.domain = domain
        self.backend_args = backend_args
        super().__init__(ann_file=ann_file, data_prefix=data_prefix,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        """Parse the file list."""
        img_root = self.data_prefix.get('img_path', '')
        depth_root = self.data_prefix.get('depth_map_path', img_root)
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                lines = f.readlines()
        except FileNotFoundError:
            raise FileNotFoundError(
                f'{self.ann_file}: KITTI file list not found') from None
        data_list, skipped = [], 0
        for lineno, line in enumerate(lines, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 3:
                raise ValueError(f'{self.ann_file}:{lineno}: expected '
                                 '"rgb_path depth_path focal", got '
                                 f'{line.strip()!r}')
            try:
                focal = float(parts[2])
            except ValueError:
                raise ValueError(f'{self.ann_file}:{lineno}: focal '
                                 f'{parts[2]!r} is not a number') from None
            info = dict(img_path=join_root(img_root, parts[0]), focal=focal,
                        domain=self.domain)
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
        print_log(f'ZoeKITTIDataset: {len(data_list)} samples from '
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
