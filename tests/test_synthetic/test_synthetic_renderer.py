"""Tests of the procedural indoor-scene renderer (synthetic NYU)."""
import numpy as np
import pytest

from mmzoe_synthetic import (HOLE_EDGE, HOLE_RANGE, HOLE_SPECKLE,
                                      NYU_LABELS, Decal, IndoorScene,
                                      Material, PinholeCamera, nyu_id, render,
                                      render_frame)
from mmzoe.datasets.utils import map_nyu894_to_13, nyu894_names

# NYU toolbox camera_params.m (independent of the renderer's constants)
FX, FY, CX, CY = 518.8579, 519.4696, 325.5824, 253.7362


def test_camera_scaling_keeps_the_model():
    cam = PinholeCamera.nyu(scale=0.25)
    assert (cam.height, cam.width) == (120, 160)
    assert cam.fx == pytest.approx(FX / 4, rel=1e-6)
    assert cam.fy == pytest.approx(FY / 4, rel=1e-6)
    # pixel centres: full-res x maps to (x + 0.5) * s - 0.5
    assert cam.cx == pytest.approx((CX + 0.5) / 4 - 0.5, rel=1e-6)
    assert cam.cy == pytest.approx((CY + 0.5) / 4 - 0.5, rel=1e-6)
    with pytest.raises(ValueError, match='integer image size'):
        PinholeCamera.nyu(scale=0.33)


@pytest.mark.parametrize('scale', [0.25, 1.0])
def test_fronto_parallel_wall_has_constant_depth(scale):
    w, h, d = 4.0, 2.8, 5.0
    cam_pos = (2.0, 1.4, 1.0)
    scene = IndoorScene.empty_room(w, h, d)
    cam = PinholeCamera.nyu(cam_pos, scale=scale)
    frame = render(scene, cam, np.random.default_rng(0))
    dist = d - cam_pos[2]
    # independent visibility of the far wall: back-project each pixel to
    # the plane z = d and check it lies inside the wall rectangle
    v, u = np.mgrid[0:cam.height, 0:cam.width]
    x = cam_pos[0] + (u - (CX + 0.5) * scale + 0.5) / (FX * scale) * dist
    y = cam_pos[1] - (v - (CY + 0.5) * scale + 0.5) / (FY * scale) * dist
    margin = 1e-3
    far = (x > margin) & (x < w - margin) & (y > margin) & (y < h - margin)
    assert far.mean() > 0.5
    np.testing.assert_allclose(frame.depth[far], dist, rtol=1e-6)
    # z-depth, not ray length: the ray length grows off-centre
    assert frame.depth[far].max() - frame.depth[far].min() < 1e-5
    # everything else is nearer (side walls, floor, ceiling)
    assert np.all(frame.depth[~far] <= dist + 1e-5)
    # walls map to class 12 (wall) through the shipped mapping
    cls = map_nyu894_to_13(frame.labels)
    assert np.all(cls[far] == 12)


def test_floor_depth_grows_towards_the_horizon():
    height = 1.3
    scene = IndoorScene.empty_room(5.0, 2.7, 7.5)
    cam = PinholeCamera.nyu((2.5, height, 0.5), yaw=np.deg2rad(10),
                            scale=0.5)
    frame = render(scene, cam, np.random.default_rng(1))
    cls = map_nyu894_to_13(frame.labels)
    assert (cls == 5).mean() > 0.2
    for col in range(0, cam.width, 16):
        rows = np.nonzero(cls[:, col] == 5)[0]
        assert rows.size > 10 and rows[-1] == cam.height - 1
        depth = frame.depth[rows, col]
        # monotone: every row above is farther away
        assert np.all(np.diff(depth) < 0)
        # level camera: z = height * fy / (v - cy) (independent formula)
        fy, cy = FY * 0.5, (CY + 0.5) * 0.5 - 0.5
        np.testing.assert_allclose(depth, height * fy / (rows - cy),
                                   rtol=1e-5)


def test_label_ids_map_to_the_documented_classes():
    names = nyu894_names()
    lut_check = []
    for name, (nyu, cls13) in NYU_LABELS.items():
        if nyu:
            assert names[nyu - 1] == name, (name, nyu, names[nyu - 1])
        lut_check.append((nyu, cls13))
    ids = np.array([p[0] for p in lut_check])
    expected = np.array([p[1] for p in lut_check])
    np.testing.assert_array_equal(map_nyu894_to_13(ids), expected)


def _frames():
    return [render_frame(5, i, scale=0.25, views_per_scene=2)
            for i in range(6)]


@pytest.fixture(scope='module')
def frames():
    return _frames()


def test_frames_look_like_nyu(frames):
    for f in frames:
        assert f.rgb.shape == (120, 160, 3) and f.rgb.dtype == np.uint8
        assert f.depth.shape == (120, 160) and f.depth.dtype == np.float32
        assert f.labels.dtype == np.uint16
        assert np.all(np.isfinite(f.depth))
        assert 0.1 < f.depth.min() and f.depth.max() < 12
        assert f.rgb.std() > 10  # textured and lit, not flat
        cls = map_nyu894_to_13(f.labels)
        # a hand-held indoor view always shows some wall and floor
        assert (cls == 12).mean() > 0.05
        assert (cls == 5).mean() > 0.01 or (cls == 3).mean() > 0.01
    assert frames[0].scene == frames[1].scene  # two views per room
    assert frames[1].scene != frames[2].scene
    assert frames[0].scene.startswith(frames[0].scene_type + '_')
    classes = set()
    for f in frames:
        classes |= set(np.unique(map_nyu894_to_13(f.labels)).tolist())
    assert len(classes) >= 6


def test_deterministic_for_a_seed(frames):
    again = render_frame(5, 3, scale=0.25, views_per_scene=2)
    ref = frames[3]
    for key in ('rgb', 'depth', 'raw_depth', 'labels'):
        np.testing.assert_array_equal(getattr(again, key), getattr(ref, key))
    other = render_frame(6, 3, scale=0.25, views_per_scene=2)
    assert not np.array_equal(other.depth, ref.depth)


def _near_jump(depth, radius, rel):
    """Pixels within Chebyshev distance ``radius`` of a pixel that touches a
    relative depth jump > rel (plain loops over shifts)."""
    h, w = depth.shape
    touch = np.zeros((h + 2, w + 2), bool)
    for a, b, sl_a, sl_b in (
            (depth[:, 1:], depth[:, :-1], (slice(1, -1), slice(2, -1)),
             (slice(1, -1), slice(1, -2))),
            (depth[1:, :], depth[:-1, :], (slice(2, -1), slice(1, -1)),
             (slice(1, -2), slice(1, -1)))):
        jump = np.abs(a - b) > rel * 0.999 * np.minimum(a, b)
        touch[sl_a] |= jump
        touch[sl_b] |= jump
    touch = np.pad(touch[1:-1, 1:-1], radius)
    out = np.zeros((h, w), bool)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out |= touch[dy:dy + h, dx:dx + w]
    return out


def test_raw_depth_holes_only_where_documented(frames):
    for f in frames:
        raw, depth, reason = f.raw_depth, f.depth, f.hole_reason
        valid = raw > 0
        np.testing.assert_array_equal(raw[valid], depth[valid])
        np.testing.assert_array_equal(valid, reason == 0)
        assert 0.005 < (~valid).mean() < 0.7
        # range: never a hole for range reasons inside [0.45, 8) m, always
        # beyond 10 m
        rng_hole = (reason & HOLE_RANGE) > 0
        assert not np.any(rng_hole & (depth >= 0.45) & (depth < 8.0))
        assert np.all(rng_hole[depth > 10.0])
        # edge holes lie near an actual depth discontinuity
        edge = (reason & HOLE_EDGE) > 0
        assert np.all(_near_jump(depth, 3, 0.05)[edge])
        # speckle is sparse
        assert ((reason & HOLE_SPECKLE) > 0).mean() < 0.02


def test_window_glass_and_far_walls_are_holes():
    scene = IndoorScene.empty_room(4.0, 2.8, 9.5)
    glass = len(scene.materials)
    scene.materials.append(
        Material(nyu_id('window'), (0.8, 0.9, 1.0), no_return=True,
                 emissive=True))
    # a window on the far wall: x in [1, 3], y in [1, 2]
    scene.decals.append(Decal(5, (1.0, 3.0, 1.0, 2.0), glass))
    cam = PinholeCamera.nyu((2.0, 1.5, 0.5), scale=0.25)
    f = render(scene, cam, np.random.default_rng(3))
    dist = 9.0
    v, u = np.mgrid[0:cam.height, 0:cam.width]
    x = 2.0 + (u - cam.cx) / cam.fx * dist
    y = 1.5 - (v - cam.cy) / cam.fy * dist
    inside = (x > 1.01) & (x < 2.99) & (y > 1.01) & (y < 1.99)
    assert inside.sum() > 50
    assert np.all(map_nyu894_to_13(f.labels)[inside] == 13)
    assert np.all(f.raw_depth[inside] == 0)
    assert np.all(f.rgb[inside].mean(-1) > 180)  # bright, unlit outside
    # the far wall at 9 m: a hole when beyond the frame's range (8-10 m)
    wall = (f.depth > 8.999) & ~inside
    if np.any(f.raw_depth[wall] > 0):
        np.testing.assert_array_equal(f.raw_depth[wall & (f.raw_depth > 0)],
                                      f.depth[wall & (f.raw_depth > 0)])


def test_camera_presets():
    f = render_frame(2, 0, scale=0.25, camera='steady')
    rot = f.camera.rotation
    # steady preset: roll within +-1 degree -> the camera x axis stays
    # nearly horizontal in the world (y up)
    assert abs(rot[1, 0]) < np.sin(np.deg2rad(1.01))
    assert 1.2 <= f.camera.position[1] <= 1.5
    with pytest.raises(ValueError, match='unknown camera preset'):
        render_frame(2, 0, scale=0.25, camera='drone')
