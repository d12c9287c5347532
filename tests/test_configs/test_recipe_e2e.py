"""The report's seg-distill recipe, shrunk, end to end on CPU (issue 6).

A tiny variant of ``configs/zoe_segdistill_nyu.py`` (same schedule, loop,
optimiser, augmentation pipeline, persistent loader workers, dataset type
and split; tiny model and a tiny generated NYU-layout ``.mat``: the
``tiny_recipe`` fixture of ``tests/conftest.py``) trained by
``tools/train.py`` for its 2 epochs (``tiny_recipe_run``): it validates
every quarter epoch and keeps the best checkpoint by abs_rel, and
``tools/test.py`` evaluates the best checkpoint. Resuming that run from the
end of its first epoch (same losses and weights as without the
interruption): tests/test_engine/test_checkpoint_resume.py. The same recipe
on 2 CPU ranks (half the iterations per epoch):
tests/test_engine/test_dist_exit.py.
"""
import glob
import os.path as osp
import re
import sys

from zoe_testing import RECIPE_EPOCHS as EPOCHS
from zoe_testing import RECIPE_PER_EPOCH as PER_EPOCH
from zoe_testing import run


def _iters_per_epoch(stdout):
    found = re.findall(r'Epoch\(train\)\s+\[1\]\[\s*\d+/(\d+)\]', stdout)
    assert found, stdout[-2000:]
    return int(found[0])


def test_tiny_recipe_trains_validates_and_tests(tiny_recipe, tiny_recipe_run,
                                                tmp_path):
    work_dir, out = tiny_recipe_run['work_dir'], tiny_recipe_run['log']
    assert _iters_per_epoch(out) == PER_EPOCH == 8
    # default_runtime's env_cfg.cpu_runtime, applied before the model is
    # built: denormals are flushed on every intra-op thread
    assert 'cpu_runtime: malloc=reuse, flush_denormal=True' in out
    # validation every quarter epoch: 8 // 4 = 2 iterations -> 4 per epoch
    # (three inside an epoch, logged with the number of completed epochs,
    # and one at its end, logged with that epoch's number)
    vals = re.findall(r'Epoch\(val\) \[(\d)\]\[\d+/\d+\]\s+a1', out)
    assert vals == ['0', '0', '0', '1', '1', '1', '1', '2'], vals
    assert 'decode.loss_silog' in out and 'aux.loss_dice' in out
    assert 'aux.loss_focal' in out
    # named by the epoch, or by the iteration if it was inside an epoch
    best = glob.glob(osp.join(work_dir, 'best_abs_rel_*.pth'))
    assert len(best) == 1, best
    for epoch in range(1, EPOCHS + 1):
        assert osp.isfile(osp.join(work_dir, f'epoch_{epoch}.pth'))

    # tools/test.py on the best checkpoint prints the metric table
    out_dir = str(tmp_path / 'per_image')
    proc = run([sys.executable, 'tools/test.py', tiny_recipe, best[0],
                '--work-dir', str(tmp_path / 'test'), '--out', out_dir],
               timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    for key in ('a1', 'abs_rel', 'rmse', 'log_10', 'silog'):
        assert re.search(rf'{key}: \d', out), key
    assert glob.glob(osp.join(out_dir, '*.csv'))
