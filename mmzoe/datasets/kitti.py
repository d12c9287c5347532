"""KITTI (Eigen split) from BTS / ZoeDepth file lists."""
from mmzoe.registry import DATASETS
from .file_list import ZoeFileListDepthDataset


@DATASETS.register_module()
class ZoeKITTIDataset(ZoeFileListDepthDataset):
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

    LIST_NAME = 'KITTI'
    FOCAL_REQUIRED = True

    def __init__(self,
                 ann_file: str,
                 depth_scale: float = 256.0,
                 data_prefix: dict = dict(img_path='', depth_map_path=''),
                 domain: str = 'kitti',
                 backend_args: dict = None,
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, depth_scale=depth_scale,
                         data_prefix=data_prefix, domain=domain,
                         backend_args=backend_args, **kwargs)
