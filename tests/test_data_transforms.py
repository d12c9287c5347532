"""mmzoe data transforms keep image, depth and labels aligned."""
import numpy as np
import pytest

import mmzoe  # noqa: F401
from mmseg.datasets.transforms import RandomFlip

from mmzoe.datasets.transforms import ZoeColorAug, ZoeRandomRotate, ZoeResize

H, W = 120, 160
COLORS = np.array([(30 * k % 256, 80 + 10 * k, 255 - 15 * k)
                   for k in range(16)], np.uint8)


def block_sample():
    """4x4 blocks: label k, depth 1 + k / 2, colour COLORS[k]."""
    rows, cols = np.mgrid[0:H, 0:W]
    seg = ((rows // 30) * 4 + cols // 40).astype(np.uint8)
    depth = (1.0 + seg / 2.0).astype(np.float32)
    img = COLORS[seg]
    return dict(img=img.copy(), gt_seg_map=seg.copy(),
                gt_depth_map=depth.copy(),
                seg_fields=['gt_seg_map', 'gt_depth_map'])


def check_consistent(res):
    seg, depth, img = res['gt_seg_map'], res['gt_depth_map'], res['img']
    lab = seg != 255
    np.testing.assert_allclose(depth[lab], 1.0 + seg[lab] / 2.0)
    assert (depth[~lab] == 0).all()
    # away from block borders the image colour is the block's colour
    inner = lab.copy()
    for dy in (-2, 0, 2):
        for dx in (-2, 0, 2):
            inner &= np.roll(seg, (dy, dx), (0, 1)) == seg
    inner[:3] = inner[-3:] = inner[:, :3] = inner[:, -3:] = False
    assert inner.sum() > 0.5 * seg.size
    diff = np.abs(img[inner].astype(int) - COLORS[seg[inner]].astype(int))
    assert diff.max() <= 2


def test_rotate_aligned_and_padded():
    t = ZoeRandomRotate(degree=30)
    t._random_angle = lambda: 25.0
    src = block_sample()
    res = t(block_sample())
    assert res['rotate_angle'] == 25.0
    check_consistent(res)
    seg = res['gt_seg_map']
    # corners are outside the rotated image: 255 / 0 / black
    assert seg[0, 0] == 255 and seg[-1, -1] == 255
    assert res['gt_depth_map'][0, 0] == 0 and (res['img'][0, 0] == 0).all()
    # direction: counter-clockwise (PIL convention) about the centre;
    # output pixel p samples the source at R(-angle) (p - c) + c with y down
    a = np.deg2rad(25.0)
    cy, cx = (H - 1) / 2, (W - 1) / 2
    ys, xs = np.mgrid[0:H, 0:W]
    sx = np.cos(a) * (xs - cx) - np.sin(a) * (ys - cy) + cx
    sy = np.sin(a) * (xs - cx) + np.cos(a) * (ys - cy) + cy
    sxi, syi = np.round(sx).astype(int), np.round(sy).astype(int)
    inside = (sxi >= 1) & (sxi < W - 1) & (syi >= 1) & (syi < H - 1)
    ref = src['gt_seg_map'][np.clip(syi, 0, H - 1), np.clip(sxi, 0, W - 1)]
    agree = (seg == ref)[inside].mean()
    assert agree > 0.97
    # the opposite rotation would disagree a lot
    t._random_angle = lambda: -25.0
    seg_cw = t(block_sample())['gt_seg_map']
    assert (seg_cw == ref)[inside].mean() < 0.8


def test_rotate_angle_distribution():
    t = ZoeRandomRotate(degree=1.0)
    np.random.seed(0)
    angles = np.array([t._random_angle() for _ in range(2000)])
    assert angles.min() >= -1.0 and angles.max() < 1.0
    assert abs(angles.mean()) < 0.05 and angles.std() > 0.5
    assert ZoeRandomRotate(degree=5, prob=0.0)(block_sample()).get(
        'rotate_angle') is None


def test_flip_then_rotate_aligned():
    src = block_sample()
    res = RandomFlip(prob=1.0, direction='horizontal')(block_sample())
    assert res['flip'] and res['flip_direction'] == 'horizontal'
    for key in ('img', 'gt_seg_map', 'gt_depth_map'):
        np.testing.assert_array_equal(res[key], src[key][:, ::-1])
    rot = ZoeRandomRotate(degree=10)
    rot._random_angle = lambda: -7.0
    check_consistent(rot(res))


def test_resize_image_only():
    res = ZoeResize((60, 80))(block_sample())
    assert res['img'].shape == (60, 80, 3) and res['img_shape'] == (60, 80)
    assert res['gt_depth_map'].shape == (H, W)
    assert res['gt_seg_map'].shape == (H, W)


def test_color_aug():
    src = block_sample()
    t = ZoeColorAug(prob=1.0)
    t._params = lambda c: (1.05, 1.2, np.array([0.9, 1.0, 1.1]))
    out = t(block_sample())['img']
    x = src['img'] / 255.0
    ref = np.clip(x**1.05 * 1.2 * np.array([0.9, 1.0, 1.1]), 0, 1) * 255
    assert out.dtype == np.uint8
    assert np.abs(out - ref).max() <= 0.5 + 1e-3
    same = ZoeColorAug(prob=0.0)(block_sample())['img']
    np.testing.assert_array_equal(same, src['img'])
    np.random.seed(0)
    aug = ZoeColorAug(prob=1.0)
    params = [aug._params(3) for _ in range(200)]
    gammas = np.array([p[0] for p in params])
    bright = np.array([p[1] for p in params])
    assert 0.9 <= gammas.min() and gammas.max() <= 1.1
    assert 0.75 <= bright.min() < 0.8 and 1.2 < bright.max() <= 1.25


def test_rotate_matches_pil_convention():
    """Upstream rotates with PIL: labels (nearest) must agree exactly, the
    image (bilinear) away from the border within 1 grey level."""
    Image = pytest.importorskip('PIL.Image')
    src = block_sample()
    for angle in (0.7, -1.0, 25.0):
        t = ZoeRandomRotate(degree=30)
        t._random_angle = lambda a=angle: a
        res = t(block_sample())
        # shift ids by 1 so PIL's fill (0) is distinguishable
        ref = np.array(Image.fromarray(src['gt_seg_map'] + 1).rotate(
            angle, resample=Image.NEAREST)).astype(int) - 1
        inside = ref >= 0
        np.testing.assert_array_equal(res['gt_seg_map'][inside],
                                      ref[inside])
        assert (res['gt_seg_map'][~inside] == 255).all()
        ref_img = np.array(Image.fromarray(src['img']).rotate(
            angle, resample=Image.BILINEAR)).astype(int)
        interior = inside.copy()
        for dy in (-2, 0, 2):
            for dx in (-2, 0, 2):
                interior &= np.roll(inside, (dy, dx), (0, 1))
        interior[:2] = interior[-2:] = False
        interior[:, :2] = interior[:, -2:] = False
        diff = np.abs(res['img'].astype(int) - ref_img)[interior]
        assert diff.max() <= 1
