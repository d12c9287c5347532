"""NYUv2LabeledDataset(bts_export=True) and tools/dataset_converters/
nyu_labeled_to_bts.py against BTS's published export procedure.

The procedure, as BTS's ``extract_official_train_test_set_from_mat.py``
describes it (rebuilt here from that description, with OpenCV's own file
writer, not from mmzoe's code): per frame, the ``.mat`` RGB image turned
into OpenCV's BGR order, everything outside rows 7:474 / columns 7:632 set
to black, written with ``cv2.imwrite`` as ``rgb_XXXXX.jpg`` (default
quality); ``rawDepths * 1000`` cast to uint16 written as
``sync_depth_XXXXX.png``; a loader reads the JPEG as RGB and divides the
PNG by 1000.
"""
import importlib.util
import os
import os.path as osp

import cv2
import h5py
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

import mmzoe  # noqa: F401
from mmzoe.datasets import NYUv2LabeledDataset
from mmzoe.datasets.utils import bts_encode_frame, write_nyu_labeled_mat
from mmzoe.registry import DATASETS, METRICS

from zoe_testing import REPO

H, W = 480, 640
N = 3


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'nyu_labeled_to_bts',
        osp.join(REPO, 'tools', 'dataset_converters', 'nyu_labeled_to_bts.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def mat_file(tmp_path_factory):
    """Three 480x640 frames in the real layout: textured colour image with
    NYU's white undistortion border, raw depth with holes and values whose
    float32 product with 1000 is not a whole number (or is, by rounding)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    images, depths, raws = [], [], []
    for i in range(N):
        img = np.stack([xx / W * 255, yy / H * 255,
                        128 + 100 * np.sin(xx / 17 + yy / 23 + i)], -1)
        img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255)
        img = img.astype(np.uint8)
        img[:8] = img[-8:] = 255
        img[:, :9] = img[:, -9:] = 255
        raw = (0.5 + 9.0 * rng.random((H, W))).astype(np.float32)
        raw[rng.random((H, W)) < 0.1] = 0
        raw[0, :4] = np.float32([9.99, 1.0005, 2.0010001, 0.9999999])
        images.append(img)
        raws.append(raw)
        depths.append(np.where(raw > 0, raw, 3.0).astype(np.float32))
    path = str(tmp_path_factory.mktemp('nyu_bts') / 'nyu_labeled.mat')
    write_nyu_labeled_mat(path, images, depths,
                          np.zeros((N, H, W), np.uint16), raw_depths=raws,
                          scene_types=['bathroom', 'kitchen', 'bathroom'])
    return path


def _export_by_the_procedure(mat, i, folder):
    """BTS's procedure for frame ``i``: the two files and what a loader
    (OpenCV; PIL gives the same pixels) reads back."""
    with h5py.File(mat, 'r') as f:
        rgb = f['images'][i].T          # MATLAB 480x640x3, RGB
        raw = f['rawDepths'][i].T       # float32 metres
    bgr = rgb[:, :, ::-1]
    black = np.zeros((480, 640, 3), np.uint8)
    black[7:474, 7:632, :] = bgr[7:474, 7:632, :]
    jpg = osp.join(folder, f'rgb_{i:05d}.jpg')
    png = osp.join(folder, f'sync_depth_{i:05d}.png')
    cv2.imwrite(jpg, black)
    cv2.imwrite(png, (raw * 1000.0).astype(np.uint16))
    read_rgb = cv2.imread(jpg, cv2.IMREAD_COLOR)[:, :, ::-1]
    read_depth = cv2.imread(png, cv2.IMREAD_UNCHANGED).astype(
        np.float32) / 1000.0
    return jpg, png, rgb, raw, np.ascontiguousarray(read_rgb), read_depth


def test_mode_equals_the_export_procedure(mat_file, tmp_path):
    ds = NYUv2LabeledDataset(ann_file=mat_file, split='all', test_mode=True,
                             depth_key='rawDepths', with_labels=False,
                             bts_export=True)
    plain = NYUv2LabeledDataset(ann_file=mat_file, split='all',
                                test_mode=True, depth_key='rawDepths',
                                with_labels=False)
    for i in range(N):
        jpg, png, rgb, raw, exp_rgb, exp_depth = _export_by_the_procedure(
            mat_file, i, str(tmp_path))
        sample = ds.load_sample(ds.get_data_info(i))
        img, depth = sample['img'], sample['gt_depth_map']
        # byte for byte (RGB), value for value (depth)
        assert img.dtype == np.uint8 and img.shape == (H, W, 3)
        assert img.tobytes() == exp_rgb.tobytes()
        assert depth.dtype == np.float32 and np.array_equal(depth, exp_depth)
        # the files themselves: same JPEG bytes, same millimetres
        mine_jpg, mine_png = bts_encode_frame(rgb, raw)
        assert mine_jpg == open(jpg, 'rb').read()
        assert np.array_equal(
            cv2.imdecode(np.frombuffer(mine_png, np.uint8),
                         cv2.IMREAD_UNCHANGED),
            cv2.imread(png, cv2.IMREAD_UNCHANGED))
        # the acceptance formulation: cv2 JPEG encode/decode of the
        # black-bordered image; floor(raw x 1000) / 1000
        bordered = np.zeros_like(rgb)
        bordered[7:474, 7:632] = rgb[7:474, 7:632]
        ok, buf = cv2.imencode('.jpg', bordered[:, :, ::-1])
        assert ok and np.array_equal(
            img, cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])
        assert np.array_equal(
            depth, np.floor(raw * np.float32(1000)) / np.float32(1000))
        # and it is not the .mat image: border black, JPEG changed pixels
        ref = plain.load_sample(plain.get_data_info(i))
        # (JPEG rings a little into the black border)
        assert (ref['img'][:7] == 255).all() and img[:7].mean() < 4
        assert img[:, 632:].mean() < 4 and img[474:].mean() < 4
        assert not np.array_equal(img[7:474, 7:632], rgb[7:474, 7:632])
        assert not np.array_equal(depth, ref['gt_depth_map'])
    # 9.99 m: float32 product 9990 mm (a float64 one would give 9989)
    first = ds.load_sample(ds.get_data_info(0))['gt_depth_map']
    assert first[0, 0] == np.float32(9990) / np.float32(1000)


def test_eval_config_uses_the_mode():
    cfg = Config.fromfile(osp.join(
        REPO, 'configs', 'zoedepth',
        'zoedepth_swin2b_eval_nyu-official654.py'))
    assert cfg.test_dataloader.dataset.bts_export is True
    assert cfg.test_dataloader.dataset.depth_key == 'rawDepths'


def test_mode_needs_480x640(tmp_path):
    path = str(tmp_path / 'small_frames.mat')
    write_nyu_labeled_mat(path, np.zeros((1, 48, 64, 3), np.uint8),
                          np.ones((1, 48, 64), np.float32),
                          np.zeros((1, 48, 64), np.uint16))
    with pytest.raises(ValueError, match='small_frames.mat.*480x640.*48x64'):
        NYUv2LabeledDataset(ann_file=path, split='all', bts_export=True)


def _metrics(dataset, model, evaluator_cfg):
    metric = METRICS.build(evaluator_cfg)
    for i in range(len(dataset)):
        batch = pseudo_collate([dataset[i]])
        with torch.no_grad():
            metric.process(batch, model.test_step(batch))
    return metric.compute_metrics(metric.results)


def test_converter_files_give_the_mat_metrics(mat_file, tmp_path, capsys):
    tool = _load_tool()
    out = str(tmp_path / 'nyu_bts')
    assert tool.main([mat_file, out, '--split', 'all']) == 0
    assert 'test: 3 frames' in capsys.readouterr().out
    with open(osp.join(out, 'nyudepthv2_test_files_with_gt.txt')) as f:
        lines = f.read().splitlines()
    assert lines == [
        'bathroom/rgb_00000.jpg bathroom/sync_depth_00000.png 518.8579',
        'kitchen/rgb_00001.jpg kitchen/sync_depth_00001.png 518.8579',
        'bathroom/rgb_00002.jpg bathroom/sync_depth_00002.png 518.8579']
    test_dir = osp.join(out, 'official_splits', 'test')
    for i in range(N):   # the converter writes the procedure's files
        scene = lines[i].split('/')[0]
        jpg, png, *_ = _export_by_the_procedure(mat_file, i, str(tmp_path))
        assert open(osp.join(test_dir, scene, f'rgb_{i:05d}.jpg'),
                    'rb').read() == open(jpg, 'rb').read()
        assert np.array_equal(
            cv2.imread(osp.join(test_dir, scene, f'sync_depth_{i:05d}.png'),
                       cv2.IMREAD_UNCHANGED),
            cv2.imread(png, cv2.IMREAD_UNCHANGED))

    # read back through configs/_base_/datasets/nyu_eigen.py
    eigen = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets', 'nyu_eigen.py'))
    eigen.test_dataloader.dataset.data_root = out
    files_ds = DATASETS.build(eigen.test_dataloader.dataset)
    mat_ds = NYUv2LabeledDataset(
        ann_file=mat_file, split='all', test_mode=True, depth_key='rawDepths',
        with_labels=False, bts_export=True,
        pipeline=[dict(type='PackSegInputs')])
    assert len(files_ds) == len(mat_ds) == N

    from mmzoe.apis import init_model
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match='random initialisation'):
        model = init_model(
            osp.join(REPO, 'tests', 'configs', 'zoe_tiny_nyu.py'),
            cfg_options={'model.test_cfg.flip': True})
    evaluator = eigen.test_evaluator
    got_files = _metrics(files_ds, model, evaluator)
    got_mat = _metrics(mat_ds, model, evaluator)
    assert set(got_files) == set(got_mat) and 'abs_rel' in got_mat
    for key, value in got_mat.items():
        assert np.isfinite(value), key
        # the acceptance bound is 1e-6; the two paths give the same floats
        assert abs(got_files[key] - value) <= 1e-6, (key, got_files[key],
                                                    value)
        assert got_files[key] == value, (key, got_files[key], value)


def test_converter_errors(mat_file, tmp_path, capsys):
    tool = _load_tool()
    assert tool.main([mat_file, str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'nyu_labeled.mat' in err[0] \
        and '--split all' in err[0]
    assert tool.main([str(tmp_path / 'missing.mat'),
                      str(tmp_path / 'o')]) == 2
    assert 'missing.mat' in capsys.readouterr().err
    assert not os.path.exists(tmp_path / 'o' / 'official_splits')
