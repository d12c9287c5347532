"""Tests of mmzoe.visualization: colour maps, colour bar, panels, PNG, PLY."""
import os.path as osp
import re

import cv2
import numpy as np
import pytest

from mmzoe.visualization import (NYU_INTRINSICS, add_colorbar, colorize_depth,
                                 colorize_relative, depth_to_points,
                                 get_colormap_lut, make_depth_panel,
                                 nice_ticks, read_depth_png, save_depth_as_ply,
                                 write_depth_png)

from zoe_testing import REPO


# ---------------------------------------------------------------- colour maps
def test_inferno_lut_matches_matplotlib():
    matplotlib = pytest.importorskip('matplotlib')
    ref = matplotlib.colormaps['inferno'](np.arange(256), bytes=True)[:, :3]
    lut = get_colormap_lut('inferno')
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert np.abs(lut.astype(int) - ref.astype(int)).max() <= 2
    assert np.array_equal(get_colormap_lut('inferno_r'), lut[::-1])


def test_colorize_depth_fixed_range_and_invalid_black():
    lut = get_colormap_lut('inferno')
    depth = np.array([[0.0, 2.5, 5.0, 10.0, 25.0],
                      [np.nan, np.inf, -1.0, 1e-3, 7.5]], dtype=np.float32)
    out = colorize_depth(depth)  # default 0..10 m
    assert out.shape == (2, 5, 3) and out.dtype == np.uint8
    # independent expectation: index = round(clip(d, 0, 10) / 10 * 255)
    for (r, c), d in np.ndenumerate(depth):
        if np.isfinite(d) and d > 0:
            idx = int(round(min(d, 10.0) / 10.0 * 255))
            assert tuple(out[r, c]) == tuple(lut[idx]), (r, c, d)
        else:
            assert tuple(out[r, c]) == (0, 0, 0), (r, c, d)
    # the same depth gets the same colour whatever else is in the image
    a = colorize_depth(np.array([[3.0, 4.0]]))
    b = colorize_depth(np.array([[3.0, 9.0]]))
    assert np.array_equal(a[0, 0], b[0, 0])
    # an extra mask blanks pixels; a custom range changes the mapping
    masked = colorize_depth(depth, valid_mask=np.zeros_like(depth, bool))
    assert not masked.any()
    assert tuple(colorize_depth(np.array([[2.0]]), 0, 4)[0, 0]) == tuple(
        lut[128])
    with pytest.raises(ValueError):
        colorize_depth(depth, vmin=5, vmax=5)
    with pytest.raises(ValueError):
        colorize_depth(np.zeros((2, 3, 4)))


def test_colorize_relative_uses_image_range():
    rel = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    out = colorize_relative(rel, percentiles=(0, 100))
    lut = get_colormap_lut('inferno')
    assert tuple(out[0, 0]) == tuple(lut[0])
    assert tuple(out[-1, -1]) == tuple(lut[255])
    # affine invariance: scaled/shifted relative depth looks identical
    assert np.array_equal(out, colorize_relative(rel * 7 + 3,
                                                 percentiles=(0, 100)))


# ----------------------------------------------------------------- colour bar
def test_nice_ticks():
    assert nice_ticks(0, 10) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(0, 1) == pytest.approx([0, .2, .4, .6, .8, 1.0])
    assert nice_ticks(0.5, 3.3) == [1, 2, 3]
    ticks = nice_ticks(0, 80)
    assert ticks[0] == 0 and ticks[-1] == 80 and len(ticks) <= 6


def test_colorbar_draws_range_and_labels():
    img = colorize_depth(np.full((240, 320), 5.0))
    out = add_colorbar(img, 0, 10)
    assert out.shape[0] == 240 and out.shape[1] > 320
    assert np.array_equal(out[:, :320], img)  # image untouched
    bar = out[:, 320:]
    lut = get_colormap_lut('inferno').astype(int)
    # find the column whose colours run through the colour map
    hits = [c for c in range(bar.shape[1])
            if np.abs(bar[120, c].astype(int) - lut[128]).max() <= 3]
    assert hits, 'no colour-bar column found'
    col = bar[:, hits[len(hits) // 2]].astype(int)
    top = np.nonzero(np.abs(col - lut[255]).max(1) <= 3)[0]
    bottom = np.nonzero(np.abs(col - lut[0]).max(1) <= 3)[0]
    assert top.size and bottom.size and top.min() < bottom.max()
    assert top.mean() < 120 < bottom.mean()  # vmax at the top
    # tick labels: dark text pixels right of the bar
    text_area = bar[:, hits[-1] + 1:]
    assert (text_area.max(axis=2) < 100).sum() > 50


# ------------------------------------------------------------------- panels
def test_panel_tiles_and_fixed_range():
    h, w = 60, 80
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    pred = np.full((h, w), 5.0, np.float32)
    gt = np.full((h, w), 2.5, np.float32)
    gt[:, :10] = 0  # invalid
    rel = rng.random((h, w)).astype(np.float32)
    full = make_depth_panel(rgb, pred, rel_depth=rel, gt_depth=gt,
                            separator=4, colorbar=False)
    strip = full.shape[0] - h
    assert strip > 0
    assert full.shape[1] == 4 * w + 3 * 4
    body = full[strip:]
    assert np.array_equal(body[:, :w], rgb)
    gt_tile = body[:, 2 * (w + 4):2 * (w + 4) + w]
    pred_tile = body[:, 3 * (w + 4):]
    assert np.array_equal(gt_tile, colorize_depth(gt, 0, 10))
    assert not gt_tile[:, :10].any()  # invalid GT is black
    lut = get_colormap_lut('inferno')
    assert (pred_tile == lut[128]).all()  # 5 m of 0..10 m
    # tiles optional; a colour bar widens the panel; depth resized to rgb
    small = make_depth_panel(rgb, pred[::2, ::2], colorbar=False, separator=4)
    assert small.shape[1] == 2 * w + 4
    assert make_depth_panel(rgb, pred).shape[1] > small.shape[1]


# ------------------------------------------------------------- 16-bit PNGs
def test_depth_png_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    depth = rng.uniform(0.01, 12.0, (37, 53)).astype(np.float32)
    depth[0, :5] = [0.0, np.nan, -2.0, np.inf, 70.0]
    depth[1, 0] = 1e-4  # valid but below half a millimetre
    png = str(tmp_path / 'd.png')
    npy = str(tmp_path / 'd.npy')
    write_depth_png(png, depth)
    np.save(npy, depth)
    raw = cv2.imread(png, cv2.IMREAD_UNCHANGED)  # independent reader
    assert raw.dtype == np.uint16 and raw.shape == depth.shape
    assert list(raw[0, :5]) == [0, 0, 0, 0, 65535]
    assert raw[1, 0] == 1  # stays valid (1 mm)
    back = read_depth_png(png)
    ref = np.load(npy)
    assert back.dtype == np.float32
    ok = np.isfinite(ref) & (ref > 1e-3) & (ref < 65.535)
    assert np.abs(back[ok] - ref[ok]).max() <= 0.0005 + 1e-6
    # nearest millimetre, independently computed
    assert np.array_equal(raw[ok], np.floor(ref[ok].astype(np.float64) *
                                            1000 + 0.5).astype(np.uint16))
    assert back[0, 4] == pytest.approx(65.535)


def test_depth_png_errors(tmp_path):
    eight_bit = str(tmp_path / 'eight.png')
    cv2.imwrite(eight_bit, np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=re.escape(eight_bit)):
        read_depth_png(eight_bit)
    missing = str(tmp_path / 'nope.png')
    with pytest.raises(FileNotFoundError, match=re.escape(missing)):
        read_depth_png(missing)
    with pytest.raises(ValueError):
        write_depth_png(str(tmp_path / 'd.jpg'), np.ones((3, 3)))


# ----------------------------------------------------------------- PLY
def _parse_ply(path):
    """Tiny independent PLY reader (vertex element, float/uchar props)."""
    with open(path, 'rb') as f:
        data = f.read()
    end = data.index(b'end_header\n') + len(b'end_header\n')
    header = data[:end].decode('ascii').splitlines()
    assert header[0] == 'ply'
    fmt = header[1].split()[1]
    count = 0
    props = []
    for line in header:
        parts = line.split()
        if parts[:2] == ['element', 'vertex']:
            count = int(parts[2])
        elif parts[0] == 'property':
            props.append((parts[2], parts[1]))
    types = {'float': '<f4', 'uchar': 'u1'}
    dtype = np.dtype([(n, types[t]) for n, t in props])
    if fmt == 'binary_little_endian':
        assert len(data) - end == count * dtype.itemsize
        return np.frombuffer(data[end:], dtype=dtype, count=count)
    assert fmt == 'ascii'
    rows = [r.split() for r in data[end:].decode().splitlines() if r]
    assert len(rows) == count
    out = np.empty(count, dtype=dtype)
    for i, (name, _) in enumerate(props):
        out[name] = [float(r[i]) for r in rows]
    return out


@pytest.mark.parametrize('binary', [True, False])
def test_ply_one_vertex_per_valid_pixel(tmp_path, binary):
    rng = np.random.default_rng(2)
    h, w = 24, 32
    depth = rng.uniform(0.5, 8.0, (h, w)).astype(np.float32)
    depth[rng.random((h, w)) < 0.3] = 0
    depth[3, 4] = np.nan
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    fx, fy, cx, cy = 40.0, 42.0, 15.3, 11.7
    path = str(tmp_path / ('b.ply' if binary else 'a.ply'))
    n = save_depth_as_ply(path, depth, rgb, fx=fx, fy=fy, cx=cx, cy=cy,
                          binary=binary)
    valid = np.isfinite(depth) & (depth > 0)
    assert n == valid.sum()
    verts = _parse_ply(path)
    assert len(verts) == valid.sum()
    # back-project every vertex to its pixel: the depth and colour match
    z = verts['z'].astype(np.float64)
    u = verts['x'] * fx / z + cx
    v = verts['y'] * fy / z + cy
    cols, rows = np.rint(u).astype(int), np.rint(v).astype(int)
    assert np.abs(u - cols).max() < 1e-3 and np.abs(v - rows).max() < 1e-3
    assert valid[rows, cols].all()
    assert np.allclose(z, depth[rows, cols], rtol=1e-6)
    assert len(set(zip(rows.tolist(), cols.tolist()))) == len(verts)
    for ch, name in enumerate(('red', 'green', 'blue')):
        assert np.array_equal(verts[name], rgb[rows, cols, ch])
    # an explicit loop for one pixel
    r, c = np.argwhere(valid)[5]
    i = np.nonzero((rows == r) & (cols == c))[0][0]
    d = float(depth[r, c])
    assert verts['x'][i] == pytest.approx((c - cx) * d / fx, rel=1e-5)
    assert verts['y'][i] == pytest.approx((r - cy) * d / fy, rel=1e-5)


def test_points_default_nyu_intrinsics():
    depth = np.zeros((480, 640), np.float32)
    depth[253, 325] = 2.0
    depth[0, 0] = 1.0
    pts, colors, pix = depth_to_points(depth)
    assert colors is None and pts.shape == (2, 3)
    k = NYU_INTRINSICS
    assert k == dict(fx=518.8579, fy=519.4696, cx=325.5824, cy=253.7362)
    assert pts[0] == pytest.approx(
        [-k['cx'] / k['fx'], -k['cy'] / k['fy'], 1.0], rel=1e-5)
    assert pts[1] == pytest.approx(
        [(325 - k['cx']) * 2 / k['fx'], (253 - k['cy']) * 2 / k['fy'], 2.0],
        rel=1e-4)
    assert pix.tolist() == [[0, 0], [253, 325]]
    with pytest.raises(ValueError):
        depth_to_points(depth, rgb=np.zeros((480, 640, 3), np.float32))


def test_demo_samples_shipped():
    root = osp.join(REPO, 'demo',
                    'nyu_samples')
    for idx in ('00000', '00050', '00100'):
        gt = read_depth_png(osp.join(root, 'depth', f'sync_depth_{idx}.png'))
        rgb = cv2.imread(osp.join(root, 'rgb', f'rgb_{idx}.jpg'))
        assert gt.shape == (480, 640) and rgb.shape == (480, 640, 3)
        assert 0.1 < (gt == 0).mean() < 0.5 and 2 < gt.max() < 10
    readme = open(osp.join(root, 'README.md'), encoding='utf-8').read()
    assert 'Silberman' in readme and 'BSD-2' in readme
