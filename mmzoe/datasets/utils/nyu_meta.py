"""Access to the NYU Depth V2 metadata shipped in ``mmzoe/datasets/meta``."""
import os.path as osp
from functools import lru_cache
from typing import List, Tuple

import numpy as np

META_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'meta')

#: Number of images in the real ``nyu_depth_v2_labeled.mat``.
NYU_NUM_LABELED = 1449

#: Colour per 13(+1)-class id (0 unknown is black, as in most NYU-13 plots).
NYU13_PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (0, 0, 0), (0, 0, 255), (232, 88, 47), (0, 217, 0), (148, 0, 240),
    (222, 241, 23), (255, 205, 205), (0, 223, 228), (106, 135, 204),
    (116, 28, 41), (240, 35, 235), (0, 166, 156), (249, 139, 0),
    (225, 228, 194))


def _meta_file(name: str) -> str:
    path = osp.join(META_DIR, name)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path}: shipped NYU metadata file is missing (broken mmzoe '
            'install? the package data `mmzoe/**/*.txt` must be installed)')
    return path


def _read_id_name_file(name: str) -> List[str]:
    names = []
    with open(_meta_file(name), encoding='utf-8') as f:
        for lineno, line in enumerate(f):
            line = line.rstrip('\n')
            if not line.strip():
                continue
            idx, _, label = line.partition(' ')
            if int(idx) != len(names):
                raise ValueError(f'{_meta_file(name)}:{lineno + 1}: expected '
                                 f'id {len(names)}, got {idx}')
            names.append(label.strip())
    return names


@lru_cache(maxsize=None)
def nyu13_class_names() -> Tuple[str, ...]:
    """The 14 class names (``0 unknown`` then the 13 NYU-13 classes)."""
    return tuple(_read_id_name_file('class_names.txt'))


@lru_cache(maxsize=None)
def nyu894_names() -> Tuple[str, ...]:
    """The 894 NYU names in label-id order (id ``k`` is ``names[k - 1]``)."""
    return tuple(_read_id_name_file('nyu894_names.txt')[1:])


@lru_cache(maxsize=None)
def _mapping_894_to_13() -> np.ndarray:
    lut = np.loadtxt(_meta_file('mapping_894_to_13.txt'), dtype=np.int64)
    if lut.shape != (895, ) or lut.min() < 0 or lut.max() > 13:
        raise ValueError(f'{_meta_file("mapping_894_to_13.txt")}: expected '
                         f'895 values in 0..13, got shape {lut.shape}')
    lut = lut.astype(np.uint8)
    lut.setflags(write=False)
    return lut


def mapping_894_to_13() -> np.ndarray:
    """Look-up table (895,) uint8: NYU label id 0..894 -> class 0..13."""
    return _mapping_894_to_13()


def map_nyu894_to_13(labels: np.ndarray,
                     source: str = '<array>') -> np.ndarray:
    """Map a NYU 894-id label map to the 14-class ids (uint8 0..13).

    Args:
        labels (np.ndarray): integer label map with values 0..894.
        source (str): file/sample name used in the error message.

    Returns:
        np.ndarray: uint8 map of the same shape.
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() > 894):
        raise ValueError(
            f'{source}: NYU label ids must be in 0..894, got range '
            f'[{labels.min()}, {labels.max()}]')
    return mapping_894_to_13()[labels.astype(np.int64)]


@lru_cache(maxsize=None)
def nyu_official_split(subset: str) -> Tuple[int, ...]:
    """0-based indices of the official NYU split (``'train'`` 795, ``'test'``
    654)."""
    if subset not in ('train', 'test'):
        raise ValueError(f"official NYU split subset must be 'train' or "
                         f"'test', got {subset!r}")
    path = _meta_file(f'nyu_official_{subset}_indices.txt')
    return tuple(int(v) for v in np.loadtxt(path, dtype=np.int64))
