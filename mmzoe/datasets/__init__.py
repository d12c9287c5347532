from .transforms import *  # noqa: F401,F403
from .base_depth import ZoeBaseDepthDataset
from .file_list import ZoeFileListDepthDataset
from .folder import ZoeDepthFolderDataset
from .ibims1 import IBims1Dataset
from .kitti import ZoeKITTIDataset
from .nyu_eigen import NYUEigenDataset
from .nyu_labeled import NYUv2LabeledDataset
from .samplers import ZoeRoundRobinBatchSampler

__all__ = [
    'ZoeBaseDepthDataset', 'ZoeFileListDepthDataset', 'ZoeDepthFolderDataset',
    'IBims1Dataset', 'NYUEigenDataset', 'NYUv2LabeledDataset', 'ZoeKITTIDataset',
    'ZoeRoundRobinBatchSampler'
]
