"""Tests of tools/infer.py (the command-line inference tool)."""
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import mmzoe  # noqa: F401
from mmzoe.apis import inference_depth, init_model

from zoe_testing import REPO as ROOT
from zoe_testing import run, tool_env

TINY = osp.join(ROOT, 'configs', '_base_', 'models', 'zoedepth_tiny.py')
INFER = osp.join(ROOT, 'tools', 'infer.py')


def _image(h, w, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / w, yy / h, (xx + yy) / (h + w)], -1) * 200
    base = base * rng.uniform(0.4, 1.2, 3)
    return np.clip(base + rng.normal(0, 15, (h, w, 3)), 0, 255).astype(
        np.uint8)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('cli')
    torch.manual_seed(0)
    with pytest.warns(UserWarning):
        model = init_model(TINY)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * 1.5 /
                        np.sqrt(p[0].numel()))
    ckpt = str(root / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    images = root / 'images'
    images.mkdir()
    sizes = {'a_001': (48, 64), 'b_002': (40, 56), 'c_003': (48, 64)}
    arrays = {}
    for i, (name, hw) in enumerate(sizes.items()):
        arrays[name] = _image(*hw, seed=i)
        Image.fromarray(arrays[name]).save(str(images / f'{name}.png'))
    gt_dir = root / 'gt'
    gt_dir.mkdir()
    gt = np.full(sizes['a_001'], 2500, np.uint16)
    gt[:5] = 0
    cv2.imwrite(str(gt_dir / 'depth_001.png'), gt)  # matched by digits
    return dict(root=root, ckpt=ckpt, images=images, gt=gt_dir,
                arrays=arrays, model=init_model(TINY, ckpt))


def _run(args, cwd):
    """``python tools/infer.py ARGS`` as a process of its own (a fork of the
    session's warm interpreter: ``zoe_testing.run``)."""
    env = dict(tool_env(), PYTHONPATH=ROOT)
    return run([sys.executable, INFER, *args], cwd=cwd, env=env, timeout=300)


def _parse_ply_count(path):
    with open(path, 'rb') as f:
        data = f.read()
    header = data[:data.index(b'end_header\n')].decode('ascii')
    for line in header.splitlines():
        if line.startswith('element vertex'):
            return int(line.split()[-1])
    raise AssertionError('no vertex element')


def test_cli_folder_writes_all_outputs(setup):
    out = setup['root'] / 'out'
    res = _run([TINY, setup['ckpt'], str(setup['images']), '--out', str(out),
                '--panel', '--ply', '--gt', str(setup['gt']),
                '--fx', '50', '--fy', '50', '--cx', '32', '--cy', '24'],
               cwd=str(setup['root']))
    assert res.returncode == 0, res.stdout + res.stderr
    assert '3/3 images processed' in res.stdout
    for name, rgb in setup['arrays'].items():
        h, w = rgb.shape[:2]
        npy = np.load(str(out / f'{name}_depth.npy'))
        assert npy.shape == (h, w) and npy.dtype == np.float32
        # same numbers as the Python API
        np.testing.assert_allclose(
            npy, inference_depth(setup['model'], rgb), rtol=1e-5, atol=1e-5)
        png = cv2.imread(str(out / f'{name}_depth.png'), cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint16 and png.shape == (h, w)
        assert np.abs(png / 1000.0 - npy).max() <= 0.001  # within 1 mm
        color = cv2.imread(str(out / f'{name}_depth_color.png'))
        assert color.shape[0] == h and color.shape[1] > w  # + colour bar
        panel = cv2.imread(str(out / f'{name}_panel.png'))
        n_tiles = 4 if name == 'a_001' else 3  # GT only for a_001
        assert panel.shape[0] > h and panel.shape[1] > n_tiles * w
        assert _parse_ply_count(str(out / f'{name}.ply')) == int(
            (np.isfinite(npy) & (npy > 0)).sum())
    # the panel with GT is wider by one tile
    wide = cv2.imread(str(out / 'a_001_panel.png')).shape[1]
    narrow = cv2.imread(str(out / 'c_003_panel.png')).shape[1]
    assert wide - narrow >= 64
    assert 'no matching GT' in res.stderr  # b_002 and c_003


def _infer_module():
    """tools/infer.py imported in-process (saves a 5 s interpreter start)."""
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    try:
        import infer
    finally:
        sys.path.pop(0)
    return infer


def test_cli_corrupt_image_reported_rest_processed(setup, tmp_path, capsys):
    images = tmp_path / 'imgs'
    images.mkdir()
    for name in ('a_001', 'c_003'):
        Image.fromarray(setup['arrays'][name]).save(
            str(images / f'{name}.png'))
    with open(images / 'broken.jpg', 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0 definitely not a jpeg')
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(str(images / 'gray.png'))
    out = tmp_path / 'out'
    rc = _infer_module().main(
        [TINY, setup['ckpt'], str(images), '--out', str(out)])
    err = capsys.readouterr().err
    assert rc == 1
    assert 'broken.jpg' in err and 'gray.png' in err
    assert '2 image(s) failed' in err
    for name in ('a_001', 'c_003'):
        for suffix in ('_depth.png', '_depth.npy', '_depth_color.png'):
            assert osp.isfile(out / f'{name}{suffix}')
    assert not any(f.startswith(('broken', 'gray')) for f in os.listdir(out))


def test_cli_glob_and_missing_input_in_process(setup, tmp_path, capsys):
    infer = _infer_module()
    out = tmp_path / 'g'
    pattern = str(setup['images'] / '*_00[13].png')
    rc = infer.main(
        [TINY, setup['ckpt'], pattern, '--out', str(out), '--flip'])
    assert rc == 0
    assert sorted(f for f in os.listdir(out) if f.endswith('.npy')) == [
        'a_001_depth.npy', 'c_003_depth.npy'
    ]
    rc = infer.main([TINY, setup['ckpt'], str(tmp_path / 'none*.jpg')])
    assert rc == 2
    assert 'no image file found' in capsys.readouterr().err
    rc = infer.main([TINY, str(tmp_path / 'no.pth'),
                     str(setup['images'])])
    assert rc == 2
    assert 'no.pth' in capsys.readouterr().err
