"""Camera intrinsics files (mmzoe.apis.camera_intrinsics and
tools/infer.py --intrinsics)."""
import contextlib
import importlib.util
import io
import json
import os.path as osp

import numpy as np
import pytest

from mmzoe.apis.camera_intrinsics import IntrinsicsError, load_intrinsics

from zoe_testing import REPO as ROOT

K = dict(fx=500.0, fy=510.0, cx=320.5, cy=240.25)
K_ROWS = [[500.0, 0, 320.5], [0, 510.0, 240.25], [0, 0, 1]]


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_text_and_json_matrices(tmp_path):
    txt = _write(tmp_path / 'K.txt', '# K\n500 0 320.5\n0 510 240.25\n0 0 1\n')
    assert load_intrinsics(txt) == K
    csv = _write(tmp_path / 'K.csv', '500,0,320.5,0,510,240.25,0,0,1')
    assert load_intrinsics(csv) == K
    for data in (K_ROWS, {'K': K_ROWS}, {'camera_matrix': sum(K_ROWS, [])},
                 dict(K)):
        path = _write(tmp_path / 'k.json', json.dumps(data))
        assert load_intrinsics(path) == K


def test_open3d_json_is_column_major_and_scaled(tmp_path):
    o3d = {'width': 640, 'height': 480,
           'intrinsic_matrix': list(np.array(K_ROWS).T.ravel())}
    path = _write(tmp_path / 'o3d.json', json.dumps(o3d))
    assert load_intrinsics(path) == K
    assert load_intrinsics(path, image_size=(480, 640)) == K
    half = load_intrinsics(path, image_size=(240, 320))
    assert half['fx'] == 250 and half['fy'] == 255
    assert half['cx'] == pytest.approx((320.5 + 0.5) / 2 - 0.5)


def test_colmap_cameras(tmp_path):
    text = ('# Camera list with one line of data per camera:\n'
            '#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n'
            '1 PINHOLE 640 480 500 510 321 240.75\n'
            '2 SIMPLE_RADIAL 320 240 250 160 120 0.01\n')
    path = _write(tmp_path / 'cameras.txt', text)
    with pytest.warns(UserWarning, match='2 cameras'):
        # pixel centres at +0.5 in COLMAP
        assert load_intrinsics(path) == K
    with pytest.warns(UserWarning, match='distortion'):
        cam = load_intrinsics(path, camera_id=2, image_size=(480, 640))
    assert cam == dict(fx=500.0, fy=500.0, cx=319.5, cy=239.5)


@pytest.mark.parametrize('text,match', [
    ('1 2 3\n4 5 6', '9 numbers'),
    ('{"foo": 1}', 'without a camera matrix'),
    ('1 WEIRD 640 480 1 2 3', 'unknown COLMAP camera model'),
    ('1 PINHOLE 640 480 500 510 321', 'has 4 parameters'),
    ('500 0 320 0 510 240 0 1 1', 'not a pinhole camera matrix'),
    ('-5 0 320 0 510 240 0 0 1', 'focal lengths must be positive'),
])
def test_bad_files_name_the_file(tmp_path, text, match):
    path = _write(tmp_path / 'cam.txt', text)
    with pytest.raises(IntrinsicsError, match=match) as err:
        load_intrinsics(path)
    assert str(err.value).startswith(path)
    with pytest.raises(IntrinsicsError, match='not found'):
        load_intrinsics(str(tmp_path / 'missing.txt'))


def test_infer_ply_uses_the_intrinsics_file(tmp_path):
    import torch
    from PIL import Image

    from mmzoe.apis import init_model
    from mmzoe.visualization import save_depth_as_ply
    tiny = osp.join(ROOT, 'configs', '_base_', 'models', 'zoedepth_tiny.py')
    torch.manual_seed(0)
    with pytest.warns(UserWarning):
        model = init_model(tiny)
    ckpt = str(tmp_path / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(str(tmp_path / 'a.png'))
    kfile = _write(tmp_path / 'K.txt', '30 0 15.5\n0 31 11.5\n0 0 1\n')

    spec = importlib.util.spec_from_file_location(
        'infer_tool', osp.join(ROOT, 'tools', 'infer.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / 'out'
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(err):
        code = tool.main([tiny, ckpt, str(tmp_path / 'a.png'), '--out',
                          str(out), '--ply', '--intrinsics', kfile,
                          '--fy', '40'])
    assert code == 0, err.getvalue()
    depth = np.load(str(out / 'a_depth.npy'))
    ref = tmp_path / 'ref.ply'
    save_depth_as_ply(str(ref), depth, rgb, fx=30, fy=40, cx=15.5, cy=11.5)
    assert (out / 'a.ply').read_bytes() == ref.read_bytes()
    # a bad intrinsics file stops the tool before any work, one line
    bad = _write(tmp_path / 'bad.json', '{"K": [1, 2]}')
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(err):
        code = tool.main([tiny, ckpt, str(tmp_path / 'a.png'), '--out',
                          str(out), '--ply', '--intrinsics', bad])
    assert code == 2 and f'{bad}: expected a 3x3' in err.getvalue()
