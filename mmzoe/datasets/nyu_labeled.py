"""NYU Depth V2 labeled set (``nyu_depth_v2_labeled.mat``, 1449 images)."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from mmzoe.registry import DATASETS
from .base_depth import ZoeBaseDepthDataset
from .utils.nyu_bts_export import BTS_FRAME_SHAPE, bts_export_sample
from .utils.nyu_mat import NYULabeledMatReader
from .utils.nyu_meta import (NYU_NUM_LABELED, map_nyu894_to_13,
                             nyu_official_split)


def random_split_indices(num_images: int,
                         subset: str,
                         seed: int = 43,
                         val_ratio: float = 0.2,
                         num_val: Optional[int] = None) -> List[int]:
    """Seeded random train/val split of ``range(num_images)``.

    ``perm = np.random.default_rng(seed).permutation(num_images)``; the first
    ``num_val`` entries are 'val', the rest 'train' (both returned sorted).

    Args:
        num_images (int): number of images in the file.
        subset (str): ``'train'`` or ``'val'``.
        seed (int): permutation seed. Defaults to 43.
        val_ratio (float): fraction of validation images when ``num_val``
            is None: ``num_val = round(val_ratio * num_images)``.
        num_val (int, optional): exact number of validation images.

    Returns:
        list[int]: 0-based indices of the subset.
    """
    if subset not in ('train', 'val'):
        raise ValueError(f"random split subset must be 'train' or 'val', "
                         f'got {subset!r}')
    if num_val is None:
        if not 0.0 < val_ratio < 1.0:
            raise ValueError(f'val_ratio must be in (0, 1), got {val_ratio}')
        num_val = int(round(val_ratio * num_images))
    if not 0 < num_val < num_images:
        raise ValueError(
            f'random split: num_val={num_val} must be in 1..{num_images - 1} '
            f'for a file with {num_images} images (set num_val=None to use '
            'val_ratio)')
    perm = np.random.default_rng(seed).permutation(num_images)
    chosen = perm[:num_val] if subset == 'val' else perm[num_val:]
    return sorted(int(i) for i in chosen)


def read_index_file(path: str, num_images: int) -> List[int]:
    """Read 0-based indices, one per line (``#`` comments allowed)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: index file not found')
    indices = []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            line = line.split('#')[0].strip()
            if not line:
                continue
            try:
                idx = int(line)
            except ValueError:
                raise ValueError(f'{path}:{lineno}: expected a 0-based '
                                 f'integer index, got {line!r}') from None
            if not 0 <= idx < num_images:
                raise IndexError(f'{path}:{lineno}: index {idx} out of range'
                                 f' for a file with {num_images} images '
                                 '(indices are 0-based)')
            indices.append(idx)
    if not indices:
        raise ValueError(f'{path}: index file lists no sample')
    return indices


@DATASETS.register_module()
class NYUv2LabeledDataset(ZoeBaseDepthDataset):
    """NYU Depth V2 labeled set read lazily from ``nyu_depth_v2_labeled.mat``.

    One sample is read per ``__getitem__`` through one HDF5 handle per
    process; the file is never loaded whole. Each sample gives the RGB image
    (480x640x3 uint8, the MATLAB array: a plain transpose of h5py's view,
    no rotation), depth in metres (``depths`` or ``rawDepths``, 0 = missing)
    and optionally the 14-class label map (NYU 894 ids mapped with the
    shipped ``mapping_894_to_13.txt``; 0 = unknown is a class).

    ``img_path`` of sample ``i`` is ``<ann_file>/<i:05d>`` (not a real file:
    a unique name for logs, CSV rows and saved panels); ``mat_index`` is
    ``i``.

    Splits:

    - ``'official'``: ``subset='train'`` (795) or ``'test'`` (654), the
      0-based lists shipped in ``mmzoe/datasets/meta`` (needs all 1449),
    - ``'random'``: seeded split of all images, ``subset='train'|'val'``
      (see :func:`random_split_indices`; ``num_val=291`` gives the
      report's 1158/291),
    - ``'all'``: every image,
    - ``'file'``: the 0-based indices listed in ``index_file``.

    ``bts_export=True`` gives every sample exactly as the BTS export
    (``official_splits``, the files published NYU numbers were computed on)
    reads back: RGB outside rows 7:474 / columns 7:632 black, a JPEG round
    trip through OpenCV's encoder at its default quality (95), depth
    truncated to whole millimetres (see
    :mod:`mmzoe.datasets.utils.nyu_bts_export`; needs 480x640 frames).
    ``tools/dataset_converters/nyu_labeled_to_bts.py`` writes the same files.

    Args:
        ann_file (str): the ``.mat`` path (joined to ``data_root`` if
            relative).
        split (str): ``'official'``, ``'random'``, ``'all'`` or ``'file'``.
            Defaults to ``'random'``.
        subset (str): subset of the split. Defaults to ``'train'``.
        seed (int): seed of the random split. Defaults to 43.
        val_ratio (float): validation fraction of the random split.
        num_val (int, optional): exact number of random-split validation
            images (overrides ``val_ratio``).
        index_file (str, optional): index list for ``split='file'``
            (joined to ``data_root`` if relative).
        depth_key (str): ``'depths'`` or ``'rawDepths'``.
        with_labels (bool): also return ``gt_seg_map``. Defaults to True.
        bts_export (bool): RGB and depth as BTS's exported files (black
            border, JPEG, millimetres). Defaults to False (the ``.mat``
            arrays as they are).
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments
            (``pipeline``, ``data_root``, ``test_mode``, ``indices``...).
    """

    def __init__(self,
                 ann_file: str = 'nyu_depth_v2_labeled.mat',
                 split: str = 'random',
                 subset: str = 'train',
                 seed: int = 43,
                 val_ratio: float = 0.2,
                 num_val: Optional[int] = None,
                 index_file: Optional[str] = None,
                 depth_key: str = 'depths',
                 with_labels: bool = True,
                 bts_export: bool = False,
                 **kwargs) -> None:
        if split not in ('official', 'random', 'all', 'file'):
            raise ValueError("split must be 'official', 'random', 'all' or "
                             f"'file', got {split!r}")
        if split == 'file' and not index_file:
            raise ValueError("split='file' needs index_file")
        self.split = split
        self.subset = subset
        self.seed = seed
        self.val_ratio = val_ratio
        self.num_val = num_val
        self.index_file = index_file
        self.depth_key = depth_key
        self.with_labels = with_labels
        self.bts_export = bts_export
        self.reader: Optional[NYULabeledMatReader] = None
        super().__init__(ann_file=ann_file, **kwargs)

    def _split_indices(self, num_images: int) -> Sequence[int]:
        path = self.ann_file
        if self.split == 'official':
            if num_images != NYU_NUM_LABELED:
                raise ValueError(
                    f"{path}: split='official' needs the full labeled set "
                    f'({NYU_NUM_LABELED} images), the file has {num_images};'
                    " use split='random' or split='file' for smaller files")
            return nyu_official_split(self.subset)
        if self.split == 'random':
            return random_split_indices(num_images, self.subset, self.seed,
                                        self.val_ratio, self.num_val)
        if self.split == 'all':
            return list(range(num_images))
        index_file = self.index_file
        if self.data_root and not osp.isabs(index_file):
            index_file = osp.join(self.data_root, index_file)
        return read_index_file(index_file, num_images)

    def load_data_list(self) -> List[dict]:
        """Open the file (checks its layout) and list the split's samples."""
        self.reader = NYULabeledMatReader(
            self.ann_file, depth_key=self.depth_key,
            with_labels=self.with_labels)
        n = self.reader.num_images
        frame = (self.reader.height, self.reader.width)
        if self.bts_export and frame != BTS_FRAME_SHAPE:
            raise ValueError(
                f'{self.ann_file}: bts_export=True needs the real 480x640 '
                f'frames, the file has {frame[0]}x{frame[1]}')
        indices = self._split_indices(n)
        print_log(
            f'NYUv2LabeledDataset: {len(indices)} images ({self.split} '
            f'split, subset {self.subset!r}) of {n} in {self.ann_file}, '
            f'depth from {self.depth_key!r}' +
            (' as BTS exports it (black border, JPEG, millimetres)'
             if self.bts_export else ''), logger='current')
        return [
            dict(img_path=osp.join(self.ann_file, f'{i:05d}'), mat_index=i)
            for i in indices
        ]

    def load_sample(self, data_info: dict) -> dict:
        """Read image, depth and (optionally) labels of one sample."""
        if self.reader is None:  # pragma: no cover - full_init not called
            self.full_init()
        idx = data_info['mat_index']
        img = self.reader.read_image(idx)
        depth = self.reader.read_depth(idx)
        if self.bts_export:
            img, depth = bts_export_sample(
                img, depth, source=f'{self.ann_file}[{idx}]')
        seg = None
        if self.with_labels:
            seg = map_nyu894_to_13(
                self.reader.read_labels(idx),
                source=f'{self.ann_file} labels[{idx}]')
        return self.make_results(data_info, img, depth, seg,
                                 source=f'{self.ann_file}[{idx}]')
