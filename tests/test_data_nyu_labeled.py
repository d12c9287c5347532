"""NYUv2LabeledDataset, the .mat writer/reader and the shipped metadata."""
import os
import os.path as osp
import pickle

import h5py
import numpy as np
import pytest
import torch

import mmzoe  # noqa: F401
from mmzoe.datasets import NYUv2LabeledDataset
from mmzoe.datasets.nyu_labeled import random_split_indices
from mmzoe.datasets.utils import (NYULabeledMatReader, mapping_894_to_13,
                                  nyu13_class_names, nyu894_names,
                                  nyu_official_split, read_mat_string_list,
                                  write_nyu_labeled_mat)

H, W = 480, 640
META = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'mmzoe',
                'datasets', 'meta')


def mat_indices(ds):
    return [ds.get_data_info(i)['mat_index'] for i in range(len(ds))]


def make_pattern(n=3):
    """Asymmetric pattern: red top-left corner, depth growing with the row,
    'books' (85) only on the left, 'door' (28) in the bottom-right corner."""
    images = np.zeros((n, H, W, 3), np.uint8)
    images[:, :, :, 2] = 40
    images[:, :40, :60] = (255, 0, 0)
    rows = np.arange(H, dtype=np.float32)[:, None]
    depths = np.repeat((1.0 + 0.01 * rows + 0 * np.arange(W))[None], n, 0)
    depths = (depths + np.arange(n, dtype=np.float32)[:, None, None]).astype(
        np.float32)
    labels = np.zeros((n, H, W), np.uint16)
    labels[:, :, :100] = 85
    labels[:, 400:, 600:] = 28
    labels[:, 200:210, 300:310] = 1
    return images, depths, labels


@pytest.fixture(scope='module')
def mat_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('nyu') / 'nyu_small.mat')
    images, depths, labels = make_pattern(3)
    raw = depths.copy()
    raw[:, :, :50] = 0
    write_nyu_labeled_mat(path, images, depths, labels, raw_depths=raw)
    return path


def test_shipped_mapping_and_names():
    lut = mapping_894_to_13()
    names = nyu894_names()
    assert lut.shape == (895, ) and len(names) == 894
    # compare with the raw text files, read independently
    with open(osp.join(META, 'mapping_894_to_13.txt')) as f:
        ref = [int(v) for v in f.read().split()]
    assert lut.tolist() == ref
    classes = nyu13_class_names()
    assert len(classes) == 14 and classes[0] == 'unknown'
    assert names[85 - 1] == 'books' and classes[lut[85]] == 'books'
    assert names[1 - 1] == 'book' and classes[lut[1]] == 'objects'
    assert names[28 - 1] == 'door' and classes[lut[28]] == 'wall'
    assert lut[0] == 0 and lut[1:].min() >= 1 and lut.max() == 13
    train, test = nyu_official_split('train'), nyu_official_split('test')
    assert len(train) == 795 and len(test) == 654
    assert sorted(train + test) == list(range(1449))
    assert test[:4] == (0, 1, 8, 13)


def test_writer_layout(mat_file):
    with open(mat_file, 'rb') as f:
        assert f.read(10) == b'MATLAB 7.3'
    with h5py.File(mat_file, 'r') as f:
        assert f['images'].shape == (3, 3, W, H)
        assert f['images'].dtype == np.uint8
        assert f['depths'].shape == (3, W, H)
        assert f['depths'].dtype == np.float32
        assert f['labels'].dtype == np.uint16
        assert f['names'].shape == (1, 894)
        assert f['scenes'].shape == (1, 3)
        assert f['accelData'].shape == (4, 3)
        # MATLAB element (row, col, channel) is h5py [channel, col, row]
        assert (f['images'][0][0, :60, :40] == 255).all()
        assert (f['images'][0][1, :60, :40] == 0).all()
        assert f['depths'][1][0, 100] == pytest.approx(2.0 + 0.01 * 100)
        assert f['labels'][0][10, 300] == 85
        assert f['labels'][0][620, 450] == 28
        # names: (n_chars, 1) uint16 char codes
        ref = f[f['names'][0, 84]]
        assert ref.shape == (5, 1) and ref.dtype == np.uint16
        assert read_mat_string_list(f, 'names')[84] == 'books'
        assert read_mat_string_list(f, 'sceneTypes') == ['synthetic'] * 3


@pytest.mark.parametrize('compression', [None, 'gzip'])
def test_orientation_and_labels(tmp_path, mat_file, compression):
    path = mat_file
    if compression:
        path = str(tmp_path / 'gz.mat')
        write_nyu_labeled_mat(path, *make_pattern(2), compression=compression)
        with h5py.File(path, 'r') as f:
            assert f['images'].compression == 'gzip'
    ds = NYUv2LabeledDataset(ann_file=path, split='all', test_mode=True)
    res = ds.load_sample(ds.get_data_info(1))
    img, depth, seg = res['img'], res['gt_depth_map'], res['gt_seg_map']
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    assert depth.shape == (H, W) and depth.dtype == np.float32
    assert seg.shape == (H, W) and seg.dtype == np.uint8
    assert (img[:40, :60] == (255, 0, 0)).all()       # red top-left
    assert (img[40:, :, 0] == 0).all() and (img[:, 60:, 0] == 0).all()
    np.testing.assert_allclose(depth[:, 0], 2.0 + 0.01 * np.arange(H),
                               rtol=1e-6)
    assert (depth == depth[:, :1]).all()             # constant along rows
    assert (seg[:, :100] == 2).all()                 # books only on the left
    assert (seg[400:, 600:] == 12).all()             # door -> wall
    assert (seg[200:210, 300:310] == 7).all()        # book -> objects
    assert seg[100, 300] == 0                        # unlabeled -> unknown
    assert res['seg_fields'] == ['gt_seg_map', 'gt_depth_map']


def test_raw_depths_and_pipeline(mat_file):
    ds = NYUv2LabeledDataset(
        ann_file=mat_file, split='all', depth_key='rawDepths',
        pipeline=[
            dict(type='ZoeRandomRotate', degree=1.0),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
            dict(type='ZoeColorAug', prob=0.5),
            dict(type='PackSegInputs')
        ])
    assert len(ds) == 3
    out = ds[0]
    assert out['inputs'].shape == (3, H, W)
    assert out['inputs'].dtype == torch.uint8
    sample = out['data_samples']
    assert sample.gt_depth_map.data.shape == (1, H, W)
    assert sample.gt_sem_seg.data.shape == (1, H, W)
    assert ds.metainfo['classes'][2] == 'books'
    assert len(ds.metainfo['palette']) == 14
    raw = NYUv2LabeledDataset(
        ann_file=mat_file, split='all', depth_key='rawDepths',
        with_labels=False, test_mode=True)
    res = raw.load_sample(raw.get_data_info(0))
    assert (res['gt_depth_map'][:, :50] == 0).all()
    assert 'gt_seg_map' not in res


def test_splits(tmp_path, mat_file):
    tr = random_split_indices(1449, 'train', seed=43, num_val=291)
    va = random_split_indices(1449, 'val', seed=43, num_val=291)
    assert (len(tr), len(va)) == (1158, 291)
    assert sorted(tr + va) == list(range(1449))
    assert va == random_split_indices(1449, 'val', seed=43, num_val=291)
    assert va != random_split_indices(1449, 'val', seed=44, num_val=291)
    assert len(random_split_indices(20, 'val')) == 4

    tr = NYUv2LabeledDataset(ann_file=mat_file, split='random',
                             subset='train', num_val=1)
    va = NYUv2LabeledDataset(ann_file=mat_file, split='random',
                             subset='val', num_val=1)
    got = mat_indices(tr) + mat_indices(va)
    assert sorted(got) == [0, 1, 2] and len(va) == 1
    index_file = tmp_path / 'idx.txt'
    index_file.write_text('# comment\n2\n0\n')
    ds = NYUv2LabeledDataset(ann_file=mat_file, split='file',
                             index_file=str(index_file))
    assert mat_indices(ds) == [2, 0]
    with pytest.raises(ValueError, match='nyu_small.mat.*official'):
        NYUv2LabeledDataset(ann_file=mat_file, split='official')


def test_pickle_and_workers(mat_file):
    ds = NYUv2LabeledDataset(ann_file=mat_file, split='all', test_mode=True,
                             pipeline=[dict(type='PackSegInputs')])
    ds2 = pickle.loads(pickle.dumps(ds))
    assert ds2.reader._handles == {}
    assert torch.equal(ds2[2]['inputs'], ds[2]['inputs'])
    loader = torch.utils.data.DataLoader(
        ds, batch_size=1, num_workers=2, collate_fn=lambda b: b,
        multiprocessing_context='fork')
    depths = [b[0]['data_samples'].gt_depth_map.data[0, 0, 0].item()
              for b in loader]
    np.testing.assert_allclose(depths, [1.0, 2.0, 3.0])
    assert list(ds.reader._handles) == [os.getpid()]


def test_errors(tmp_path, mat_file):
    missing = str(tmp_path / 'nope.mat')
    with pytest.raises(FileNotFoundError, match='nope.mat'):
        NYUv2LabeledDataset(ann_file=missing)
    garbage = tmp_path / 'garbage.mat'
    garbage.write_bytes(b'MATLAB 5.0 MAT-file' + b'\0' * 2000)
    with pytest.raises(ValueError, match='garbage.mat.*not an HDF5'):
        NYUv2LabeledDataset(ann_file=str(garbage))
    nodepth = str(tmp_path / 'nodepth.mat')
    with h5py.File(nodepth, 'w') as f:
        f.create_dataset('images', data=np.zeros((2, 3, 8, 6), np.uint8))
        f.create_dataset('labels', data=np.zeros((2, 8, 6), np.uint16))
    with pytest.raises(KeyError, match="nodepth.mat.*'depths'"):
        NYUv2LabeledDataset(ann_file=nodepth)
    with pytest.raises(KeyError, match="nodepth.mat.*'rawDepths'"):
        NYUv2LabeledDataset(ann_file=nodepth, depth_key='rawDepths')
    badshape = str(tmp_path / 'badshape.mat')
    with h5py.File(badshape, 'w') as f:
        f.create_dataset('images', data=np.zeros((2, 3, 8, 6), np.uint8))
        f.create_dataset('depths', data=np.zeros((2, 6, 8), np.float32))
    with pytest.raises(ValueError, match='badshape.mat.*depths'):
        NYUv2LabeledDataset(ann_file=badshape, with_labels=False)
    index_file = tmp_path / 'idx.txt'
    index_file.write_text('0\n7\n')
    with pytest.raises(IndexError, match='idx.txt:2.*out of range'):
        NYUv2LabeledDataset(ann_file=mat_file, split='file',
                            index_file=str(index_file))
    reader = NYULabeledMatReader(mat_file)
    with pytest.raises(IndexError, match='nyu_small.mat.*3 out of range'):
        reader.read_image(3)
    # corrupt HDF5: keep the superblock, drop the end of the file
    data = open(mat_file, 'rb').read()
    corrupt = tmp_path / 'corrupt.mat'
    corrupt.write_bytes(data[:len(data) // 2])
    with pytest.raises((OSError, ValueError, KeyError), match='corrupt.mat'):
        ds = NYUv2LabeledDataset(ann_file=str(corrupt), split='all',
                                 test_mode=True)
        for i in range(len(ds)):
            ds.load_sample(ds.get_data_info(i))


def test_official_split_on_full_count(tmp_path):
    """A 1449-image file (tiny 4x6 frames) gives the official 795/654."""
    n = 1449
    path = str(tmp_path / 'full_count.mat')
    depths = np.ones((n, 4, 6), np.float32) * (
        1.0 + np.arange(n, dtype=np.float32)[:, None, None] / 1000)
    write_nyu_labeled_mat(path, np.zeros((n, 4, 6, 3), np.uint8), depths,
                          np.zeros((n, 4, 6), np.uint16))
    test = NYUv2LabeledDataset(ann_file=path, split='official',
                               subset='test', with_labels=False,
                               test_mode=True)
    train = NYUv2LabeledDataset(ann_file=path, split='official',
                                subset='train', with_labels=False)
    assert (len(train), len(test)) == (795, 654)
    with open(osp.join(META, 'nyu_official_test_indices.txt')) as f:
        ref = [int(v) for v in f.read().split()]
    assert mat_indices(test) == ref
    res = test.load_sample(test.get_data_info(2))   # third test image: 8
    assert res['gt_depth_map'][0, 0] == pytest.approx(1.0 + 8 / 1000)
