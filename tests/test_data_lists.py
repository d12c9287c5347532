"""NYUEigenDataset, IBims1Dataset and ZoeDepthFolderDataset on tiny files."""
import os

import cv2
import numpy as np
import pytest
from scipy.io import savemat

import mmzoe  # noqa: F401
from mmzoe.datasets import (IBims1Dataset, NYUEigenDataset,
                            ZoeDepthFolderDataset)

H, W = 24, 32


def write_rgb(path, rgb):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), rgb[:, :, ::-1])  # cv2 writes BGR


def write_png(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), arr)


def pattern(seed):
    rng = np.random.default_rng(seed)
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[:4, :6] = (255, 0, 0)  # red top-left corner (RGB order check)
    depth_mm = rng.integers(500, 9000, (H, W)).astype(np.uint16)
    depth_mm[0, :] = 0
    return rgb, depth_mm


def test_nyu_eigen_lists(tmp_path):
    root = tmp_path / 'nyu'
    lines_train, lines_test = [], []
    for i in range(3):
        rgb, dep = pattern(i)
        write_rgb(root / 'sync' / 'kitchen' / f'rgb_{i:05d}.png', rgb)
        write_png(root / 'sync' / 'kitchen' / f'sync_depth_{i:05d}.png', dep)
        lines_train.append(f'/kitchen/rgb_{i:05d}.png '
                           f'/kitchen/sync_depth_{i:05d}.png 518.8579')
    lines_train.append('/kitchen/rgb_00002.png None 518.8579')
    rgb, dep = pattern(7)
    write_rgb(root / 'test' / 'bathroom' / 'rgb_00000.png', rgb)
    write_png(root / 'test' / 'bathroom' / 'sync_depth_00000.png', dep)
    lines_test = ['bathroom/rgb_00000.png bathroom/sync_depth_00000.png '
                  '518.8579', 'bathroom/rgb_00000.png None 518.8579']
    (root / 'train.txt').write_text('\n'.join(lines_train) + '\n')
    (root / 'test.txt').write_text('\n'.join(lines_test) + '\n')

    train = NYUEigenDataset(
        ann_file='train.txt', data_root=str(root),
        data_prefix=dict(img_path='sync', depth_map_path='sync'),
        pipeline=[dict(type='PackSegInputs')])
    assert len(train) == 3  # the None line is skipped for training
    res = train.load_sample(train.get_data_info(1))
    _, dep1 = pattern(1)
    np.testing.assert_allclose(res['gt_depth_map'], dep1 / 1000.0,
                               rtol=1e-6)
    assert (res['img'][:4, :6] == (255, 0, 0)).all()
    assert res['focal'] == pytest.approx(518.8579)
    out = train[0]
    assert out['data_samples'].gt_depth_map.data.shape == (1, H, W)

    test = NYUEigenDataset(
        ann_file='test.txt', data_root=str(root),
        data_prefix=dict(img_path='test', depth_map_path='test'),
        test_mode=True)
    assert len(test) == 2
    assert 'gt_depth_map' not in test.load_sample(test.get_data_info(1))
    np.testing.assert_allclose(
        test.load_sample(test.get_data_info(0))['gt_depth_map'],
        dep / 1000.0, rtol=1e-6)

    (root / 'bad.txt').write_text('kitchen/missing.png kitchen/x.png 1\n')
    bad = NYUEigenDataset(ann_file='bad.txt', data_root=str(root),
                          data_prefix=dict(img_path='sync',
                                           depth_map_path='sync'))
    with pytest.raises(FileNotFoundError, match='missing.png'):
        bad.load_sample(bad.get_data_info(0))
    with pytest.raises(FileNotFoundError, match='nolist.txt'):
        NYUEigenDataset(ann_file='nolist.txt', data_root=str(root))


def ibims_sample(seed):
    rng = np.random.default_rng(seed)
    rgb, _ = pattern(seed)
    depth_png = rng.integers(1, 65535, (H, W)).astype(np.uint16)
    invalid = np.ones((H, W), np.uint8)
    invalid[5:8, :] = 0
    transp = np.ones((H, W), np.uint8)
    transp[:, 10:12] = 0
    return rgb, depth_png, invalid, transp


def test_ibims_raw_and_mat(tmp_path):
    raw, mat = tmp_path / 'raw', tmp_path / 'mat'
    names = ['corridor_01', 'office_02']
    for layout_root in (raw, mat):
        layout_root.mkdir()
        (layout_root / 'imagelist.txt').write_text('\n'.join(names) + '\n')
    for i, name in enumerate(names):
        rgb, dpng, inv, tra = ibims_sample(i)
        write_rgb(raw / 'rgb' / f'{name}.png', rgb)
        write_png(raw / 'depth' / f'{name}.png', dpng)
        write_png(raw / 'mask_invalid' / f'{name}.png', inv)
        write_png(raw / 'mask_transp' / f'{name}.png', tra)
        savemat(str(mat / f'{name}.mat'), dict(data=dict(
            rgb=rgb, depth=dpng.astype(np.float64) * 50 / 65535,
            mask_invalid=inv, mask_transp=tra, edges=np.zeros((H, W)))))
    for layout, root in (('raw', raw), ('mat', mat)):
        ds = IBims1Dataset(data_root=str(root), layout=layout,
                           test_mode=True)
        assert len(ds) == 2
        res = ds.load_sample(ds.get_data_info(1))
        rgb, dpng, inv, tra = ibims_sample(1)
        expect = np.where(inv * tra > 0, dpng * 50.0 / 65535, 0)
        np.testing.assert_allclose(res['gt_depth_map'], expect, rtol=1e-6,
                                   atol=1e-7)
        assert (res['gt_depth_map'][5:8] == 0).all()
        np.testing.assert_array_equal(res['img'], rgb)
    savemat(str(mat / 'office_02.mat'), dict(data=dict(rgb=rgb)))
    ds = IBims1Dataset(data_root=str(mat), layout='mat', test_mode=True)
    with pytest.raises(KeyError, match="office_02.mat.*'depth'"):
        ds.load_sample(ds.get_data_info(1))


def test_folder_dataset(tmp_path):
    root = tmp_path / 'custom'
    for i in range(2):
        rgb, dep = pattern(10 + i)
        write_rgb(root / 'images' / f'f{i}.jpg', rgb)
        write_png(root / 'depths' / f'f{i}.png', dep)
        write_png(root / 'labels' / f'f{i}.png',
                  np.full((H, W), i + 3, np.uint8))
    ds = ZoeDepthFolderDataset(
        data_root=str(root), depth_scale=256.0,
        data_prefix=dict(img_path='images', depth_map_path='depths',
                         seg_map_path='labels'),
        pipeline=[dict(type='RandomFlip', prob=1.0, direction='horizontal'),
                  dict(type='PackSegInputs')])
    assert len(ds) == 2
    res = ds.load_sample(ds.get_data_info(1))
    _, dep = pattern(11)
    np.testing.assert_allclose(res['gt_depth_map'], dep / 256.0, rtol=1e-6)
    assert (res['gt_seg_map'] == 4).all()
    out = ds[0]['data_samples']
    np.testing.assert_allclose(out.gt_depth_map.data[0].numpy(),
                               pattern(10)[1][:, ::-1] / 256.0, rtol=1e-6)
    (root / 'list.txt').write_text('f1.jpg f1.png\n')
    ds = ZoeDepthFolderDataset(
        ann_file='list.txt', data_root=str(root),
        data_prefix=dict(img_path='images', depth_map_path='depths'))
    assert len(ds) == 1
    assert 'gt_seg_map' not in ds.load_sample(ds.get_data_info(0))
    os.remove(root / 'depths' / 'f0.png')
    with pytest.raises(FileNotFoundError, match='f0.png'):
        ZoeDepthFolderDataset(data_root=str(root))
