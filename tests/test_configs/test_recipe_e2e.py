"""The report's seg-distill recipe, shrunk, end to end on CPU (issue 6).

A tiny variant of ``configs/zoe_segdistill_nyu.py`` (same schedule, loop,
optimiser, hooks, dataset type and split; tiny model and a tiny generated
NYU-layout ``.mat``) is trained with ``tools/train.py``: it validates every
quarter epoch, keeps the best checkpoint by abs_rel, resumes, and
``tools/test.py`` evaluates the best checkpoint. The same run on 2 CPU ranks
has half the iterations per epoch.
"""
import glob
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine import Config

from zoe_testing import REPO, run, tool_env
from zoe_testing import free_port as _free_port

NUM_FRAMES = 10  # random 80/20 split -> 8 train / 2 val
EPOCHS = 2


@pytest.fixture(scope='module')
def recipe(tmp_path_factory):
    """Write the tiny .mat and the tiny recipe config; return their paths."""
    from mmzoe.datasets.utils.nyu_mat import write_nyu_labeled_mat
    root = tmp_path_factory.mktemp('recipe')
    gen = torch.Generator().manual_seed(0)
    h, w = 48, 64
    yy = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    images, depths, labels = [], [], []
    for i in range(NUM_FRAMES):
        depth = 1.0 + 4.0 * yy / h + 0.2 * i
        img = (depth / 6.0 * 255).clamp(0, 255).to(torch.uint8)
        images.append(img[..., None].expand(h, w, 3).numpy())
        depths.append(depth.numpy())
        lab = torch.full((h, w), 21, dtype=torch.int16)  # 'wall'-ish ids
        lab[:, : w // 2] = 11  # left half another class
        labels.append(lab.numpy().astype('uint16'))
    write_nyu_labeled_mat(str(root / 'nyu.mat'), images, depths, labels)

    cfg = Config.fromfile(osp.join(REPO, 'configs', 'zoe_segdistill_nyu.py'))
    tiny = Config.fromfile(
        osp.join(REPO, 'tests', 'configs', 'segdistill_tiny.py'))
    cfg.model = tiny.model  # tiny core + metric head + U-Net seg branch
    cfg.model.core_checkpoint = None
    cfg.train_cfg.max_epochs = EPOCHS
    for sched in cfg.param_scheduler:
        sched.end = EPOCHS
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.data_root = str(root)
        loader.dataset.ann_file = 'nyu.mat'
        loader.dataset.num_val = None
    cfg.train_dataloader.batch_size = 1
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackSegInputs')]
    cfg.val_evaluator = cfg.test_evaluator = dict(
        type='ZoeDepthMetric', crop=None, min_depth=1e-3, max_depth=10.0)
    cfg.default_hooks.logger.interval = 1
    path = str(root / 'tiny_segdistill_recipe.py')
    cfg.dump(path)
    return path


def _train(config, work_dir, *extra, launcher=None):
    if launcher is None:
        args = [sys.executable, 'tools/train.py', config]
        return run(args + ['--work-dir', work_dir, *extra], timeout=600)
    return subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir,
         *extra], cwd=REPO, timeout=600, capture_output=True, text=True,
        env={**tool_env(), 'PORT': str(_free_port()),
             'PYTHON': sys.executable})


def _iters_per_epoch(stdout):
    found = re.findall(r'Epoch\(train\)\s+\[1\]\[\s*\d+/(\d+)\]', stdout)
    assert found, stdout[-2000:]
    return int(found[0])


def test_tiny_recipe_trains_validates_resumes_and_tests(recipe, tmp_path):
    work_dir = str(tmp_path / 'run')
    # first epoch only (the schedule still spans EPOCHS epochs)
    proc = _train(recipe, work_dir, '--cfg-options', 'train_cfg.max_epochs=1')
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert _iters_per_epoch(out) == 8
    # default_runtime's env_cfg.cpu_runtime, applied before the model is
    # built: denormals are flushed on every intra-op thread
    assert 'cpu_runtime: malloc=reuse, flush_denormal=True' in out
    # validation every quarter epoch: 8 // 4 = 2 iterations -> 4 per epoch
    # (three inside epoch 1, logged as epoch 0 = completed epochs, and one
    # at its end, logged as epoch 1)
    vals = re.findall(r'Epoch\(val\) \[(\d)\]\[\d+/\d+\]\s+a1', out)
    assert vals == ['0', '0', '0', '1'], vals
    assert 'decode.loss_silog' in out and 'aux.loss_dice' in out
    assert 'aux.loss_focal' in out
    # named by the epoch, or by the iteration if it was inside an epoch
    best = glob.glob(osp.join(work_dir, 'best_abs_rel_*.pth'))
    assert len(best) == 1, best
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))

    # resume: continues in epoch 2 at iteration 9
    proc = _train(recipe, work_dir, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert 'resumed epoch: 1, iter: 8' in out
    assert re.search(r'Epoch\(train\)\s+\[2\]\[\s*1/8\]', out)
    assert not re.search(r'Epoch\(train\)\s+\[1\]\[', out)
    ckpt = torch.load(osp.join(work_dir, 'epoch_2.pth'), weights_only=True,
                      map_location='cpu')
    assert ckpt['meta']['iter'] == 16 and ckpt['meta']['epoch'] == 2

    # tools/test.py on the best checkpoint prints the metric table
    best = glob.glob(osp.join(work_dir, 'best_abs_rel_*.pth'))[0]
    out_dir = str(tmp_path / 'per_image')
    proc = run([sys.executable, 'tools/test.py', recipe, best, '--work-dir',
                str(tmp_path / 'test'), '--out', out_dir], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    for key in ('a1', 'abs_rel', 'rmse', 'log_10', 'silog'):
        assert re.search(rf'{key}: \d', out), key
    assert glob.glob(osp.join(out_dir, '*.csv'))


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='checks the CPU (gloo) distributed path')
def test_tiny_recipe_two_ranks_halves_iterations(recipe, tmp_path):
    proc = _train(recipe, str(tmp_path / 'dist'), '--cfg-options',
                  'train_cfg.max_epochs=1', launcher='pytorch')
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert _iters_per_epoch(out) == 8 // 2
    assert osp.isfile(osp.join(str(tmp_path / 'dist'), 'epoch_1.pth'))
