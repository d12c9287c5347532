"""KITTI Eigen split: a fixture in the real folder layout (synthetic pixels)
pins orientation, the 1/256 depth scale, invalid zeros, the KB crop and the
Garg / Eigen evaluation windows against an implementation written here
(PIL crop box as BTS/ZoeDepth, numpy masks and metrics)."""
import os

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import mmzoe  # noqa: F401
from mmzoe.datasets import ZoeKITTIDataset
from mmzoe.datasets.transforms import ZoeKBCrop
from mmzoe.evaluation.metrics import ZoeDepthMetric

DRIVE = '2011_09_26_drive_0002_sync'
FRAMES = ('0000000069', '0000000054')
H, W = 375, 1242  # a 2011_09_26 frame


def _rgb(h, w, k):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([(yy + k) % 256, xx % 256, (yy * 3 + xx + 7 * k) % 256],
                    axis=-1).astype(np.uint8)


def _depth_png(h, w, k):
    yy, xx = np.mgrid[0:h, 0:w]
    d = (256 * 2 + yy * 37 + xx * 11 + k).astype(np.int64) % 20480 + 1
    d[(yy * 5 + xx * 3) % 7 == 0] = 0  # no LiDAR point
    return d.astype(np.uint16)


@pytest.fixture()
def kitti_root(tmp_path):
    raw = tmp_path / 'raw'
    gts = tmp_path / 'gts'
    lines = []
    for k, frame in enumerate(FRAMES):
        img_rel = f'2011_09_26/{DRIVE}/image_02/data/{frame}.png'
        gt_rel = f'{DRIVE}/proj_depth/groundtruth/image_02/{frame}.png'
        os.makedirs(os.path.dirname(raw / img_rel), exist_ok=True)
        os.makedirs(os.path.dirname(gts / gt_rel), exist_ok=True)
        # cv2 writes BGR: give it the RGB image reversed
        assert cv2.imwrite(str(raw / img_rel), _rgb(H, W, k)[..., ::-1])
        assert cv2.imwrite(str(gts / gt_rel), _depth_png(H, W, k))
        lines.append(f'{img_rel} {gt_rel} 721.5377')
    # a frame without ground truth (as in the official test list)
    lines.append(f'2011_09_26/{DRIVE}/image_02/data/{FRAMES[0]}.png None '
                 '721.5377')
    (tmp_path / 'kitti_eigen_test_files_with_gt.txt').write_text(
        '\n'.join(lines) + '\n')
    return tmp_path


def _reference_sample(root, k):
    """BTS / ZoeDepth: PIL open, PIL crop box (left, top, right, bottom)."""
    frame = FRAMES[k]
    img = Image.open(root / 'raw' / f'2011_09_26/{DRIVE}/image_02/data/'
                     f'{frame}.png')
    gt = Image.open(root / 'gts' / f'{DRIVE}/proj_depth/groundtruth/'
                    f'image_02/{frame}.png')
    top, left = int(img.height - 352), int((img.width - 1216) / 2)
    box = (left, top, left + 1216, top + 352)
    img = np.asarray(img.crop(box), dtype=np.uint8)
    gt = np.asarray(gt.crop(box), dtype=np.float32) / 256.0
    return img, gt


def _dataset(root, **kwargs):
    return ZoeKITTIDataset(
        ann_file=str(root / 'kitti_eigen_test_files_with_gt.txt'),
        data_prefix=dict(img_path=str(root / 'raw'),
                         depth_map_path=str(root / 'gts')),
        pipeline=[dict(type='ZoeKBCrop'), dict(type='PackSegInputs',
                  meta_keys=('img_path', 'ori_shape', 'img_shape', 'focal',
                             'domain', 'kb_crop_box'))],
        **kwargs)


def test_layout_scale_orientation_kb_crop(kitti_root):
    ds = _dataset(kitti_root, test_mode=True)
    assert len(ds) == 3  # the None line is kept in test mode
    for k in range(2):
        raw = ds.load_sample(ds.get_data_info(k))
        # full frame: RGB order, rows/cols as stored, depth = png / 256
        assert raw['img'].shape == (H, W, 3)
        np.testing.assert_array_equal(raw['img'], _rgb(H, W, k))
        png = _depth_png(H, W, k)
        np.testing.assert_array_equal(raw['gt_depth_map'],
                                      png.astype(np.float32) / 256)
        assert raw['focal'] == pytest.approx(721.5377)
        assert raw['domain'] == 'kitti'
        # KB crop against PIL's crop box
        ref_img, ref_gt = _reference_sample(kitti_root, k)
        out = ds[k]
        sample = out['data_samples']
        img = out['inputs'].permute(1, 2, 0).numpy()  # PackSegInputs: CHW
        np.testing.assert_array_equal(img, ref_img)
        gt = sample.gt_depth_map.data[0].numpy()
        np.testing.assert_array_equal(gt, ref_gt)
        assert gt.shape == (352, 1216)
        assert sample.ori_shape == (352, 1216)
        assert sample.kb_crop_box == (23, 375, 13, 1229)
        # invalid pixels stay exactly 0 and nothing else is 0
        np.testing.assert_array_equal(gt == 0, ref_gt == 0)
        assert 0.1 < (gt == 0).mean() < 0.2
    no_gt = ds[2]['data_samples']
    assert 'gt_depth_map' not in no_gt


def test_train_mode_skips_lines_without_depth(kitti_root):
    ds = _dataset(kitti_root)
    assert len(ds) == 2


def test_bad_list_line_names_the_file(tmp_path):
    bad = tmp_path / 'list.txt'
    bad.write_text('a.png b.png\n')
    with pytest.raises(ValueError, match=r'list\.txt:1: expected'):
        ZoeKITTIDataset(ann_file=str(bad), pipeline=[])


def test_kb_crop_refuses_small_image():
    with pytest.raises(ValueError, match='x.png: image 300x1242 is smaller'):
        ZoeKBCrop().transform(dict(img=np.zeros((300, 1242, 3), np.uint8),
                                   img_path='x.png', seg_fields=[]))


def _upstream_errors(gt, pred, crop, dmin=1e-3, dmax=80.0):
    """ZoeDepth compute_metrics on a KITTI GT, written independently."""
    pred = np.clip(pred, dmin, dmax)
    h, w = gt.shape
    valid = (gt > dmin) & (gt < dmax)
    mask = np.zeros_like(valid)
    if crop == 'garg':
        fr = (0.40810811, 0.99189189, 0.03594771, 0.96405229)
    else:
        fr = (0.3324324, 0.91351351, 0.0359477, 0.96405229)
    mask[int(fr[0] * h):int(fr[1] * h), int(fr[2] * w):int(fr[3] * w)] = 1
    g, p = gt[valid & mask].astype(np.float64), pred[valid & mask]
    p = p.astype(np.float64)
    thresh = np.maximum(g / p, p / g)
    return dict(a1=(thresh < 1.25).mean(), abs_rel=np.mean(np.abs(g - p) / g),
                rmse=np.sqrt(np.mean((g - p) ** 2)),
                n=int((valid & mask).sum()))


@pytest.mark.parametrize('crop', ['garg', 'kitti_eigen'])
def test_garg_and_eigen_crops(kitti_root, crop):
    _, gt = _reference_sample(kitti_root, 0)
    rng = np.random.default_rng(0)
    # a prediction that is good only inside the evaluated windows' overlap,
    # badly wrong in the rows only one of the two windows covers
    pred = gt * rng.uniform(0.9, 1.1, gt.shape).astype(np.float32)
    pred[gt == 0] = 5.0
    pred[:int(0.40810811 * 352)] = 0.5
    metric = ZoeDepthMetric(min_depth=1e-3, max_depth=80.0, crop=crop)
    ours = metric.evaluate_image(torch.from_numpy(pred),
                                 torch.from_numpy(gt))
    ref = _upstream_errors(gt, pred, crop)
    assert ours['n_valid'] == ref['n']
    for key in ('a1', 'abs_rel', 'rmse'):
        assert ours[key] == pytest.approx(ref[key], rel=1e-9)
    if crop == 'garg':
        # rows 143.. only: the 0.5 m rows are outside
        assert ours['a1'] > 0.95
    else:
        # Eigen's window starts at row 117: the wrong rows count
        assert ours['a1'] < 0.95
