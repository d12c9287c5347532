"""NYU labeled .mat layout: a transposed file (portrait frames) is an error
naming it; the sparse test-file writer."""
import h5py
import numpy as np
import pytest

import mmzoe  # noqa: F401
from mmzoe.datasets import NYUv2LabeledDataset
from mmzoe.datasets.utils import NYULabeledMatReader, write_nyu_labeled_mat


def _write(path, h, w, n=2):
    yy = np.arange(h, dtype=np.float32)[:, None] + np.zeros((1, w),
                                                           np.float32)
    write_nyu_labeled_mat(str(path), np.zeros((n, h, w, 3), np.uint8),
                          np.stack([1.0 + yy / h] * n),
                          np.zeros((n, h, w), np.uint16))


def test_transposed_real_size_file_is_refused(tmp_path):
    # every array transposed consistently: 640x480 frames, h5py shows
    # images as (N, 3, 480, 640) instead of the real (1449, 3, 640, 480)
    path = tmp_path / 'nyu_transposed.mat'
    _write(path, 640, 480, n=1)
    with h5py.File(path, 'r') as f:
        assert f['images'].shape == (1, 3, 480, 640)
    with pytest.raises(ValueError,
                       match=r'nyu_transposed\.mat: frames are 640x480.*'
                       r'portrait.*480x640.*transposed'):
        NYULabeledMatReader(str(path), with_labels=False)
    for kwargs in (dict(split='all', with_labels=False, test_mode=True),
                   dict(split='all', depth_key='rawDepths')):
        with pytest.raises(ValueError, match='nyu_transposed.mat.*portrait'):
            NYUv2LabeledDataset(ann_file=str(path), **kwargs)


def test_small_portrait_file_is_refused_landscape_accepted(tmp_path):
    portrait = tmp_path / 'small_portrait.mat'
    _write(portrait, 8, 6)
    with pytest.raises(ValueError, match='small_portrait.mat.*8x6.*portrait'):
        NYULabeledMatReader(str(portrait))
    landscape = tmp_path / 'small_landscape.mat'
    _write(landscape, 6, 8)
    reader = NYULabeledMatReader(str(landscape))
    assert (reader.height, reader.width) == (6, 8)
    assert reader.read_image(1).shape == (6, 8, 3)
    square = tmp_path / 'square.mat'   # square frames cannot be told apart
    _write(square, 6, 6)
    assert NYULabeledMatReader(str(square)).read_depth(0).shape == (6, 6)


def test_sparse_file_for_tests(tmp_path):
    """write_nyu_labeled_mat(num_images=, indices=): only the given frames
    are written (one chunk per frame), the others read as zeros."""
    path = tmp_path / 'sparse.mat'
    depth = np.full((2, 6, 8), 2.5, np.float32)
    write_nyu_labeled_mat(str(path), np.full((2, 6, 8, 3), 7, np.uint8),
                          depth, np.ones((2, 6, 8), np.uint16),
                          num_images=10, indices=[3, 8])
    with h5py.File(path, 'r') as f:
        assert f['images'].shape == (10, 3, 8, 6)
        assert f['images'].chunks == (1, 3, 8, 6)
        assert f['images'].id.get_num_chunks() == 2
    reader = NYULabeledMatReader(str(path))
    assert reader.num_images == 10
    assert (reader.read_image(3) == 7).all() and (reader.read_image(8) == 7
                                                  ).all()
    assert (reader.read_image(4) == 0).all()
    assert (reader.read_depth(8) == 2.5).all()
    assert (reader.read_depth(0) == 0).all()
    with pytest.raises(ValueError, match='sparse.mat.*distinct'):
        write_nyu_labeled_mat(str(path), np.zeros((2, 6, 8, 3), np.uint8),
                              depth, np.zeros((2, 6, 8), np.uint16),
                              num_images=10, indices=[3, 3])
