"""Video / frame-folder / camera input of tools/infer.py (tiny model)."""
import contextlib
import importlib.util
import io
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import mmzoe  # noqa: F401
from mmzoe.apis import inference_depth, init_model
from mmzoe.apis.video_io import (FrameReader, TemporalSmoother, camera_index,
                                 is_video_file)
from mmzoe.visualization import read_depth_png

from zoe_testing import REPO as ROOT

TINY = osp.join(ROOT, 'configs', '_base_', 'models', 'zoedepth_tiny.py')
INFER = osp.join(ROOT, 'tools', 'infer.py')
N, H, W, BAD = 8, 48, 64, 3


def _frame(i):
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.stack([(xx * 4 + i * 9) % 256, (yy * 5) % 256,
                    (xx + yy + i * 20) % 256], -1)
    return img.astype(np.uint8)


def _infer(args):
    spec = importlib.util.spec_from_file_location('infer_tool', INFER)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = tool.main(list(args))
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def _read_video(path):
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f[..., ::-1])
    cap.release()
    return frames


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('video')
    torch.manual_seed(0)
    with pytest.warns(UserWarning):
        model = init_model(TINY)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    ckpt = str(root / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    video = str(root / 'clip.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 5,
                             (W, H))
    assert writer.isOpened()
    for i in range(N):
        writer.write(np.ascontiguousarray(_frame(i)[..., ::-1]))
    writer.release()
    # the same file with frame BAD destroyed inside its AVI chunk (JPEG
    # data zeroed, container intact)
    data = bytearray(open(video, 'rb').read())
    soi = [i for i in range(len(data) - 2)
           if data[i] == 0xFF and data[i + 1] == 0xD8 and data[i + 2] == 0xFF]
    assert len(soi) == N
    data[soi[BAD]:soi[BAD + 1] - 8] = bytes(soi[BAD + 1] - 8 - soi[BAD])
    corrupt = str(root / 'corrupt.avi')
    open(corrupt, 'wb').write(bytes(data))
    return dict(root=root, ckpt=ckpt, video=video, corrupt=corrupt,
                model=init_model(TINY, ckpt))


@pytest.fixture(scope='module')
def clean_run(setup):
    out = str(setup['root'] / 'out')
    res = _infer([TINY, setup['ckpt'], setup['video'], '--out', out,
                  '--save-frames', '--batch-size', '4'])
    return (out, ) + res


def test_video_in_depth_video_and_frames_out(setup, clean_run):
    out, code, stdout, stderr = clean_run
    assert code == 0, stderr
    assert f'{N}/{N} frames' in stdout
    frames = _read_video(osp.join(out, 'clip_depth.mp4'))
    assert len(frames) == N and frames[0].shape == (H, W, 3)
    pngs = sorted(os.listdir(osp.join(out, 'clip_depth_frames')))
    assert pngs == [f'frame_{i:06d}_depth.png' for i in range(N)]
    # the PNGs are the depth of the decoded frames (what the tool read)
    decoded = _read_video(setup['video'])
    ref = inference_depth(setup['model'], decoded)
    for i in (0, 5, N - 1):
        png = read_depth_png(osp.join(out, 'clip_depth_frames', pngs[i]))
        assert np.abs(png - ref[i]).max() <= 0.0006
    assert np.ptp(ref[0]) > 0.02


def test_corrupt_frame_reported_and_skipped(setup, clean_run):
    clean = clean_run[0]
    bad = str(setup['root'] / 'bad')
    code, _, stderr = _infer([TINY, setup['ckpt'], setup['corrupt'], '--out',
                              bad, '--save-frames', '--batch-size', '3'])
    assert code == 1
    assert f'frame {BAD} cannot be decoded' in stderr
    assert '1 frame(s) skipped' in stderr
    assert len(_read_video(osp.join(bad, 'corrupt_depth.mp4'))) == N - 1
    names = sorted(os.listdir(osp.join(bad, 'corrupt_depth_frames')))
    assert names == [f'frame_{i:06d}_depth.png' for i in range(N) if i != BAD]
    for name in names:  # nothing else lost or shifted
        a = read_depth_png(osp.join(bad, 'corrupt_depth_frames', name))
        b = read_depth_png(osp.join(clean, 'clip_depth_frames', name))
        # the frames after the bad one are batched with other neighbours,
        # which may move a value across a rounding step of the 16-bit PNG
        # (1 mm); a lost or shifted frame would differ by far more
        assert np.abs(a - b).max() <= 0.0011, name


def test_frame_folder_as_video_with_a_bad_file(setup, tmp_path):
    folder = tmp_path / 'frames'
    folder.mkdir()
    for i in range(4):
        Image.fromarray(_frame(i)).save(str(folder / f'f{i:02d}.png'))
    (folder / 'f02b.png').write_bytes(b'not a png')
    out = str(tmp_path / 'out')
    code, stdout, stderr = _infer([TINY, setup['ckpt'], str(folder), '--video',
                                   '--out', out, '--fps', '12'])
    assert code == 1
    assert 'f02b.png' in stderr and '4/5 frames' in stdout
    cap = cv2.VideoCapture(osp.join(out, 'frames_depth.mp4'))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(12)
    assert len(_read_video(osp.join(out, 'frames_depth.mp4'))) == 4


def test_smoothing_off_by_default_and_ema():
    s = TemporalSmoother()
    a, b = np.ones((2, 2), np.float32), np.full((2, 2), 3, np.float32)
    assert s(a) is a and s(b) is b
    s = TemporalSmoother(0.5)
    np.testing.assert_allclose(s(a), 1)
    np.testing.assert_allclose(s(b), 2)
    np.testing.assert_allclose(s(b), 2.5)
    np.testing.assert_allclose(s(np.zeros((3, 3))), 0)  # new size: restart
    with pytest.raises(ValueError):
        TemporalSmoother(1.0)


def test_sources_and_camera_errors(setup, tmp_path):
    assert is_video_file(setup['video'])
    assert not is_video_file(str(tmp_path / 'none.mp4'))
    assert camera_index('camera:1') == 1 and camera_index('0') == 0
    assert camera_index(str(setup['video'])) is None
    reader = FrameReader(setup['video'], max_frames=4)
    assert reader.num_frames == 4 and reader.fps == pytest.approx(5)
    assert [f.index for f in reader] == [0, 1, 2, 3]
    reader.close()
    code, _, stderr = _infer([TINY, setup['ckpt'], 'camera:63', '--out',
                              str(tmp_path)])
    assert code == 2 and 'camera 63: cannot open it' in stderr
    code, _, stderr = _infer([TINY, setup['ckpt'], setup['video'],
                              '--out', str(tmp_path), '--smooth', '1.5'])
    assert code == 2 and '--smooth' in stderr
