"""NYU Depth V2 from BTS / ZoeDepth file lists (``rgb depth focal`` lines)."""
from mmzoe.registry import DATASETS
from .file_list import ZoeFileListDepthDataset


@DATASETS.register_module()
class NYUEigenDataset(ZoeFileListDepthDataset):
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
        backend_args (dict, optional): MMEngine file back-end arguments.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    LIST_NAME = 'NYU'

    def __init__(self,
                 ann_file: str,
                 depth_scale: float = 1000.0,
                 data_prefix: dict = dict(img_path='', depth_map_path=''),
                 backend_args: dict = None,
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, depth_scale=depth_scale,
                         data_prefix=data_prefix,
                         backend_args=backend_args, **kwargs)
