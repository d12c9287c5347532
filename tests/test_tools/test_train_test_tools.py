"""tools/train.py and tools/test.py on CPU (subprocesses).

A tiny ZoeDepth (configs/_base_/models/zoedepth_tiny.py) is trained for a few
iterations on a tiny generated NYU-layout ``.mat``; then resumed from its
first checkpoint in a fresh process and tested. tools/dist_train.sh on 2 CPU
ranks: tests/test_engine/test_dist_exit.py.
"""
import glob
import json
import os
import os.path as osp
import sys

import pytest
import torch

from zoe_testing import CONFIG, data_options, run

MAX_ITERS = 4  # the config: LinearLR warm-up over 2 iters, PolyLR to 4
CKPT_ITER = 2


def logged_train_scalars(work_dir: str) -> dict:
    """iter -> logged scalars of the training iterations of a run."""
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(files) == 1, files
    out = {}
    with open(files[0]) as f:
        for line in f:
            rec = json.loads(line)
            if 'lr' in rec and 'loss' in rec:
                out[rec['iter']] = rec
    return out


@pytest.fixture(scope='module')
def trained(tiny_nyu, tmp_path_factory) -> str:
    """An uninterrupted run of MAX_ITERS iterations; returns its work dir."""
    work_dir = str(tmp_path_factory.mktemp('train_full'))
    proc = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
                work_dir] + data_options(tiny_nyu))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work_dir


def test_train_writes_checkpoints(trained):
    for it in (CKPT_ITER, MAX_ITERS):
        assert osp.isfile(osp.join(trained, f'iter_{it}.pth'))
    scalars = logged_train_scalars(trained)
    assert sorted(scalars) == list(range(1, MAX_ITERS + 1))
    # the schedule really changes the lr, so the resume check below can fail
    lrs = [scalars[i]['lr'] for i in sorted(scalars)]
    assert len(set(round(lr, 12) for lr in lrs)) >= 3, lrs
    # our checkpoints are loadable with weights_only=True in this process
    ckpt = torch.load(osp.join(trained, f'iter_{CKPT_ITER}.pth'),
                      weights_only=True, map_location='cpu')
    assert ckpt['meta']['iter'] == CKPT_ITER


def test_resume_fresh_process_continues_with_same_lr(trained, tiny_nyu,
                                                      tmp_path):
    work_dir = str(tmp_path / 'resumed')
    ckpt = osp.join(trained, f'iter_{CKPT_ITER}.pth')
    proc = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
                work_dir, '--resume', ckpt] + data_options(tiny_nyu))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'resumed epoch: 0, iter: {CKPT_ITER}' in proc.stdout
    full = logged_train_scalars(trained)
    resumed = logged_train_scalars(work_dir)
    # continues at iteration k+1 and ends at MAX_ITERS
    assert sorted(resumed) == list(range(CKPT_ITER + 1, MAX_ITERS + 1))
    for it in resumed:
        assert resumed[it]['lr'] == pytest.approx(full[it]['lr'], rel=1e-9)
        assert torch.isfinite(torch.tensor(resumed[it]['loss']))
    assert osp.isfile(osp.join(work_dir, f'iter_{MAX_ITERS}.pth'))


def test_resume_auto_finds_latest_checkpoint(trained, tiny_nyu, tmp_path):
    # copy the k-iteration checkpoint into a new work dir as the latest one
    work_dir = tmp_path / 'auto'
    work_dir.mkdir()
    src = osp.join(trained, f'iter_{CKPT_ITER}.pth')
    dst = work_dir / f'iter_{CKPT_ITER}.pth'
    dst.write_bytes(open(src, 'rb').read())
    (work_dir / 'last_checkpoint').write_text(str(dst))
    proc = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
                str(work_dir), '--resume'] + data_options(tiny_nyu) +
               [f'train_cfg.max_iters={CKPT_ITER + 1}'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'resumed epoch: 0, iter: {CKPT_ITER}' in proc.stdout
    assert sorted(logged_train_scalars(str(work_dir))) == [CKPT_ITER + 1]


def test_test_tool_evaluates_checkpoint(trained, tiny_nyu, tmp_path):
    out_dir = str(tmp_path / 'preds')
    proc = run([sys.executable, 'tools/test.py', CONFIG,
                osp.join(trained, f'iter_{MAX_ITERS}.pth'), '--work-dir',
                str(tmp_path / 'test'), '--out', out_dir] +
               data_options(tiny_nyu))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Load checkpoint from' in proc.stdout
    assert 'abs_rel' in proc.stdout
    assert os.listdir(out_dir)


def _one_error_line(proc, *needles):
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_bad_input_missing_config(tmp_path):
    missing = str(tmp_path / 'no_such_config.py')
    proc = run([sys.executable, 'tools/train.py', missing])
    line = _one_error_line(proc, missing, 'config')
    assert line.startswith('tools/train.py: error:')


def test_bad_input_unknown_type(tiny_nyu, tmp_path):
    proc = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
                str(tmp_path)] + data_options(tiny_nyu) +
               ['model.decode_head.type=ZoeNoSuchHead'])
    _one_error_line(proc, 'ZoeNoSuchHead', 'mmzoe::model', 'registry')


def test_bad_input_missing_checkpoint(tmp_path):
    missing = str(tmp_path / 'nothing.pth')
    proc = run([sys.executable, 'tools/test.py', CONFIG, missing])
    _one_error_line(proc, missing, 'checkpoint')
    proc = run([sys.executable, 'tools/train.py', CONFIG, '--resume',
                missing])
    _one_error_line(proc, missing, 'checkpoint')


def test_tta_is_rejected_clearly(trained):
    proc = run([sys.executable, 'tools/test.py', CONFIG,
                osp.join(trained, f'iter_{MAX_ITERS}.pth'), '--tta'])
    _one_error_line(proc, '--tta', 'flip')
