"""Checkpoints that cannot lie or vanish; resumes equal to no interruption
(issue 14, rows 2, 3, 4, 8 and 9).

The report's recipe (quarter-epoch validation, best checkpoint by abs_rel,
ZoeDepth augmentation, persistent DataLoader workers) shrunk to a tiny model
and a tiny ``.mat`` (the ``tiny_recipe`` fixture of ``tests/conftest.py``): 8
iterations per epoch, 2 epochs, a validation every 2 iterations; its
uninterrupted run is the session's ``tiny_recipe_run``. Kill tests make one
checkpoint write slow (``tests/test_engine/slow_write_train.py``) and SIGKILL
the run's process group (the training process and its DataLoader workers) in
the middle of it.
"""
import glob
import json
import os
import os.path as osp
import re
import signal
import sys
import threading
import time

import numpy as np
import pytest
import torch

from zoe_testing import RECIPE_EPOCHS as EPOCHS
from zoe_testing import RECIPE_PER_EPOCH as PER_EPOCH
from zoe_testing import REPO, run

SLOW_WRITE_TRAIN = osp.join(REPO, 'tests', 'test_engine',
                            'slow_write_train.py')


@pytest.fixture(scope='module')
def recipe(tiny_recipe) -> str:
    return tiny_recipe


def _train(config, work_dir, *extra, timeout=600):
    return run([sys.executable, 'tools/train.py', config, '--work-dir',
                work_dir, *extra], timeout=timeout)


@pytest.fixture(scope='module')
def reference(tiny_recipe_run) -> str:
    """The uninterrupted run; returns its work dir."""
    return tiny_recipe_run['work_dir']


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def _scalars(work_dir, latest=True):
    """iter -> (loss, lr) of the latest (or only) run in ``work_dir``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    assert files
    out = {}
    with open(files[-1] if latest else files[0]) as f:
        for line in f:
            rec = json.loads(line)
            if 'loss' in rec and 'lr' in rec:
                out[rec['iter']] = (rec['loss'], rec['lr'])
    return out


def _assert_same_weights(work_dir, reference):
    ref = _load(osp.join(reference, f'epoch_{EPOCHS}.pth'))
    got = _load(osp.join(work_dir, f'epoch_{EPOCHS}.pth'))
    assert got['meta']['iter'] == ref['meta']['iter'] == EPOCHS * PER_EPOCH
    assert ref['state_dict'].keys() == got['state_dict'].keys()
    for key, value in ref['state_dict'].items():
        assert torch.equal(value, got['state_dict'][key]), key


def _kill_during_write(config, work_dir, regex, count, tmp_path):
    """Train until the ``count``-th write matching ``regex``, SIGKILL it
    half-written; returns the path that was being written.

    The run is a process forked from the session's warm interpreter
    (``zoe_testing.run``, waited for in a thread); it leads a process group
    of its own, and that group (with the DataLoader workers) is killed."""
    signal_file = str(tmp_path / f'writing_{count}')
    done = {}

    def train():
        done['proc'] = run([
            sys.executable, SLOW_WRITE_TRAIN, regex, str(count), signal_file,
            '--', config, '--work-dir', work_dir], timeout=600)

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    deadline = time.monotonic() + 600
    try:
        while not osp.exists(signal_file):
            assert thread.is_alive(), (
                'the run ended before the write to kill: ' +
                done['proc'].stderr[-3000:])
            assert time.monotonic() < deadline, 'no such write in 600 s'
            time.sleep(0.2)
        time.sleep(0.2)
    finally:
        if osp.exists(signal_file + '.pid'):
            with open(signal_file + '.pid') as f:
                pgid = int(f.read())
            if thread.is_alive():
                os.killpg(pgid, signal.SIGKILL)
        thread.join(timeout=120)
    assert not thread.is_alive()
    # it died of the SIGKILL, in the middle of the write
    assert done['proc'].returncode == -signal.SIGKILL, done['proc'].stderr
    with open(signal_file) as f:
        return f.read()


def test_checkpoints_are_named_by_their_state(reference):
    """Row 2: epoch_N.pth holds the end of epoch N, whatever validated later
    inside the next epoch; no mid-epoch file is left behind."""
    for epoch in range(1, EPOCHS + 1):
        meta = _load(osp.join(reference, f'epoch_{epoch}.pth'))['meta']
        assert (meta['epoch'], meta['iter']) == (epoch, epoch * PER_EPOCH)
    assert not glob.glob(osp.join(reference, 'iter_*.pth'))
    assert not glob.glob(osp.join(reference, '.tmp-*'))
    best = glob.glob(osp.join(reference, 'best_abs_rel_*.pth'))
    assert len(best) == 1, best
    meta = _load(best[0])['meta']
    name = osp.basename(best[0])
    if meta['iter'] == meta['epoch'] * PER_EPOCH:
        assert name == f'best_abs_rel_epoch_{meta["epoch"]}.pth'
    else:
        assert name == f'best_abs_rel_iter_{meta["iter"]}.pth'
    with open(osp.join(reference, 'last_checkpoint')) as f:
        assert osp.basename(f.read()) == f'epoch_{EPOCHS}.pth'


def test_kill_while_rewriting_epoch_checkpoint(recipe, reference, tmp_path):
    """Row 3 (and 8): SIGKILL during the re-save of epoch_1.pth after the
    improved end-of-epoch validation; the resumable state survives and the
    resumed run equals the uninterrupted one bit for bit."""
    work_dir = str(tmp_path / 'run')
    written = _kill_during_write(recipe, work_dir, r'(^|-)epoch_1\.pth$', 2,
                                 tmp_path)
    assert osp.basename(written).endswith('epoch_1.pth')
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    assert _load(last)['meta']['iter'] == PER_EPOCH  # whole and loadable
    proc = _train(recipe, work_dir, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not glob.glob(osp.join(work_dir, '.tmp-*'))  # left-over removed
    _assert_same_weights(work_dir, reference)
    ref, got = _scalars(reference), _scalars(work_dir)
    assert sorted(got) == list(range(PER_EPOCH + 1, EPOCHS * PER_EPOCH + 1))
    for it in got:  # same augmentation and drop-path draws: same losses
        assert got[it] == ref[it], it


def test_kill_while_saving_best_resumes_inside_epoch(recipe, reference,
                                                     tmp_path):
    """Rows 4 and 2: SIGKILL while the 6th best checkpoint (iteration 12)
    is written; the previous best is still there, and the run resumes at
    iteration 11 from the mid-epoch iter_10.pth and ends at 16."""
    work_dir = str(tmp_path / 'run')
    _kill_during_write(recipe, work_dir, r'best_abs_rel', 6, tmp_path)
    best = glob.glob(osp.join(work_dir, 'best_abs_rel_*.pth'))
    assert best, 'no best checkpoint left'
    for path in best:
        assert 'state_dict' in _load(path)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    meta = _load(last)['meta']
    assert osp.basename(last) == f'iter_{meta["iter"]}.pth'
    assert PER_EPOCH < meta['iter'] < 2 * PER_EPOCH and meta['epoch'] == 1
    proc = _train(recipe, work_dir, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    got, ref = _scalars(work_dir), _scalars(reference)
    assert sorted(got) == list(range(meta['iter'] + 1, EPOCHS * PER_EPOCH + 1))
    for it in got:
        assert got[it] == ref[it], it
    _assert_same_weights(work_dir, reference)
    assert not glob.glob(osp.join(work_dir, 'iter_*.pth'))


def test_resume_at_epoch_end_draws_like_uninterrupted(recipe, reference,
                                                      tmp_path):
    """Row 8: resuming from the end of epoch 1 (the uninterrupted run's
    epoch_1.pth, checked to hold iteration PER_EPOCH) continues in epoch 2
    at its first iteration and repeats that run's augmentation and
    drop-path draws: same losses, same weights."""
    start = osp.join(reference, 'epoch_1.pth')
    assert _load(start)['meta']['iter'] == PER_EPOCH
    resumed = str(tmp_path / 'resumed')
    proc = _train(recipe, resumed, '--resume', start)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert f'resumed epoch: 1, iter: {PER_EPOCH}' in out
    assert re.search(rf'Epoch\(train\)\s+\[2\]\[\s*1/{PER_EPOCH}\]', out)
    assert not re.search(r'Epoch\(train\)\s+\[1\]\[', out)
    assert _load(osp.join(resumed, f'epoch_{EPOCHS}.pth'))['meta'][
        'epoch'] == EPOCHS
    ref, got = _scalars(reference), _scalars(resumed)
    assert sorted(got) == list(range(PER_EPOCH + 1, EPOCHS * PER_EPOCH + 1))
    for it in got:
        assert got[it] == ref[it], it
    _assert_same_weights(resumed, reference)


def test_resume_from_weights_only_checkpoint_stops(recipe, reference,
                                                   tmp_path):
    """Row 9: a best checkpoint has no optimizer/scheduler state."""
    best = glob.glob(osp.join(reference, 'best_abs_rel_*.pth'))[0]
    proc = _train(recipe, str(tmp_path / 'a'), '--resume', best)
    assert proc.returncode == 2, proc.stderr[-3000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert 'weights-only checkpoint' in line and 'optimizer' in line, line
    assert 'resume_weights_only=True' in line and 'Traceback' not in (
        proc.stderr)
    proc = _train(recipe, str(tmp_path / 'b'), '--resume', best,
                  '--cfg-options', 'resume_weights_only=True')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resume_weights_only=True' in proc.stdout + proc.stderr


def test_sample_draws_depend_on_epoch_and_index_only():
    """Row 8 (unit): a sample's augmentation is a function of (seed, epoch,
    index), not of the process or what it drew before."""
    from mmengine.dataset import DefaultSampler

    import mmzoe  # noqa: F401
    from mmzoe.engine.loops import _PositionSeededSampler
    from mmzoe.registry import TRANSFORMS
    from mmzoe.utils.seeding import seeded_rng
    flip = TRANSFORMS.build(dict(type='ZoeColorAug', prob=1.0))
    img = np.full((4, 4, 3), 128, np.uint8)

    def draw(index):
        with seeded_rng(index.seed):
            return flip(dict(img=img.copy()))['img']

    class _Data:

        def __len__(self):
            return 6

    sampler = _PositionSeededSampler(
        DefaultSampler(_Data(), shuffle=True, seed=3), seed=3)
    sampler.start_epoch(3, 1, skip=0)
    full = list(sampler)
    np.random.seed(123)  # history of the process must not matter
    sampler.start_epoch(3, 1, skip=4)
    resumed = list(sampler)
    assert [int(i) for i in resumed] == [int(i) for i in full[4:]]
    assert [i.seed for i in resumed] == [i.seed for i in full[4:]]
    for a, b in zip(full[4:], resumed):
        assert np.array_equal(draw(a), draw(b))
    sampler.start_epoch(3, 2)
    other_epoch = {int(i): i.seed for i in sampler}
    assert all(other_epoch[int(i)] != i.seed for i in full)
    state = np.random.get_state()[1].copy()
    draw(full[0])
    assert np.array_equal(np.random.get_state()[1], state)  # restored
