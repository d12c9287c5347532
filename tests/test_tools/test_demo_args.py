"""tools/demo.py refuses arguments it cannot run with in one line (exit 2),
before anything is rendered: no traceback from the room split after minutes
of rendering."""
import os.path as osp
import subprocess
import sys

import pytest

from mmzoe_synthetic import frame_scene

from zoe_testing import REPO, load_module

DEMO = osp.join(REPO, 'tools', 'demo.py')


@pytest.fixture(scope='module')
def demo():
    return load_module('mmzoe_demo_args', DEMO)


def _refused(demo, argv, capsys) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        demo.parse_args(argv)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert exc.value.code == 2 and len(err) == 1, (exc.value.code, err)
    assert err[0].startswith('tools/demo.py: error: '), err
    return err[0][len('tools/demo.py: error: '):]


def test_room_split_needs_a_training_room(demo, capsys):
    # 60 frames at 3 views per room are 20 rooms: --val-rooms 20 holds out
    # every one of them
    assert _refused(demo, ['--num-frames', '60'], capsys) == (
        '--val-rooms 20 leaves no room for training: --num-frames 60 at '
        '--views-per-scene 3 makes 20 rooms; pass --val-rooms at most 19 or '
        '--num-frames at least 61')
    assert _refused(demo, ['--num-frames', '3', '--val-rooms', '1'],
                    capsys) == (
        '--val-rooms 1 leaves no room for training: --num-frames 3 at '
        '--views-per-scene 3 makes 1 room; pass --num-frames at least 4')
    # the two suggested fixes pass
    for argv in (['--num-frames', '60', '--val-rooms', '19'],
                 ['--num-frames', '61'], ['--num-frames', '4',
                                          '--val-rooms', '1']):
        assert demo.validate_args(demo.parse_args(argv)) is None


@pytest.mark.parametrize('frames,views', [(61, 3), (7, 2), (5, 1)])
def test_num_rooms_is_the_renderers(demo, frames, views):
    names = {frame_scene(0, i, views).name for i in range(frames)}
    assert demo.num_rooms(frames, views) == len(names)


@pytest.mark.parametrize('argv,error', [
    (['--num-frames', '0'], '--num-frames must be >= 1, got 0'),
    (['--views-per-scene', '0'], '--views-per-scene must be >= 1, got 0'),
    (['--val-rooms', '0'], '--val-rooms must be >= 1, got 0'),
    (['--threads', '0'], '--threads must be >= 1, got 0'),
    (['--workers', '-1'], '--workers must be >= 1, got -1'),
    (['--iters', '0'], '--iters must be >= 1, got 0'),
    (['--iters', '-5'], '--iters must be >= 1, got -5'),
    (['--seed', '-1'], '--seed must be >= 0, got -1'),
    (['--camera', 'fisheye'],
     "--camera must be one of nyu, steady, got 'fisheye'"),
    (['--scale', '0'], 'got 0'),
    (['--scale', '-0.25'], 'got -0.25'),
    (['--scale', '0.31'], 'got 0.31'),  # 148.8 x 198.4 pixels
    (['--scale', 'inf'], 'got inf'),
])
def test_bad_values_one_line(demo, capsys, argv, error):
    msg = _refused(demo, argv, capsys)
    if argv[0] == '--scale':
        assert msg.startswith('--scale must be > 0 and make 480*scale x '
                              '640*scale a whole number of pixels'), msg
    assert msg.endswith(error), msg


def test_missing_config(demo, capsys, tmp_path):
    missing = str(tmp_path / 'nope.py')
    assert _refused(demo, ['--config', missing], capsys) == (
        f'config file not found: {missing}')


def test_command_line_fails_before_rendering(tmp_path):
    work = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, DEMO, '--num-frames', '60', '--work-dir',
         str(work)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == '' and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().startswith(
        'tools/demo.py: error: --val-rooms 20 leaves no room'), proc.stderr
    assert not work.exists()
