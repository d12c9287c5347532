"""Kill a training run at random moments, resume it, compare with no kill.

Trains the report's recipe (``configs/zoe_segdistill_nyu.py``: quarter-epoch
validation, best checkpoint by abs_rel, one-cycle schedule, the NYU
augmentation pipeline, persistent DataLoader workers) shrunk to a tiny model
(``tests/configs/segdistill_tiny.py``) on a tiny generated NYU-layout
``.mat``, on the CPU:

1. once without interruption;
2. ``--kills`` times: start it in a fresh work dir, ``SIGKILL`` it (with
   its DataLoader workers) after a random delay after it began training,
   uniform over the uninterrupted run's training time (drawn again, up to
   3 times, over the shorter training time of a run that ended before its
   kill), then run
   ``tools/train.py --resume`` until it finishes.

Each resumed run must end at the uninterrupted run's final iteration count
with bit-identical weights (every tensor of the final checkpoint's
``state_dict`` equal, dtype included). Prints one line per trial and a
summary; exits 1 if any trial differs.

Example::

    python tools/analysis_tools/kill_resume_check.py --kills 20 --seed 0
"""
import argparse
import os
import os.path as osp
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, Optional, Tuple

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def make_tiny_recipe(root: str, epochs: int = 2, frames: int = 10,
                     workers: int = 2) -> str:
    """Write the tiny ``.mat`` and the tiny recipe config under ``root``.

    Args:
        root (str): Output folder.
        epochs (int): Training epochs (the schedule spans them).
        frames (int): Frames of the ``.mat`` (80/20 train/val split).
        workers (int): DataLoader workers of the training loader.

    Returns:
        str: The config path.
    """
    import numpy as np
    from mmengine import Config

    from mmzoe.datasets.utils.nyu_mat import write_nyu_labeled_mat
    h, w = 48, 64
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    images, depths, labels = [], [], []
    for i in range(frames):
        depth = 1.0 + 4.0 * yy / h + 0.5 * xx / w + 0.2 * i
        img = np.stack([depth / 6.0, xx / w, rng.random((h, w))], -1)
        images.append((255 * np.clip(img, 0, 1)).astype(np.uint8))
        depths.append(depth.astype(np.float32))
        lab = np.full((h, w), 21, np.uint16)
        lab[:, : w // 2] = 11
        labels.append(lab)
    write_nyu_labeled_mat(osp.join(root, 'nyu.mat'), images, depths, labels)

    cfg = Config.fromfile(osp.join(REPO, 'configs', 'zoe_segdistill_nyu.py'))
    tiny = Config.fromfile(
        osp.join(REPO, 'tests', 'configs', 'segdistill_tiny.py'))
    cfg.model = tiny.model
    cfg.model.core_checkpoint = None
    cfg.train_cfg.max_epochs = epochs
    for sched in cfg.param_scheduler:
        sched.end = epochs
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.num_workers = workers if split == 'train' else 0
        loader.persistent_workers = bool(workers) and split == 'train'
        loader.dataset.data_root = root
        loader.dataset.ann_file = 'nyu.mat'
        loader.dataset.num_val = None
    cfg.train_dataloader.batch_size = 1
    cfg.val_evaluator = cfg.test_evaluator = dict(
        type='ZoeDepthMetric', crop=None, min_depth=1e-3, max_depth=10.0)
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = []
    path = osp.join(root, 'tiny_recipe.py')
    cfg.dump(path)
    return path


def tool_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONWARNINGS='ignore')
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    return env


def train_cmd(config: str, work_dir: str, resume: bool = False) -> list:
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
           '--work-dir', work_dir]
    return cmd + ['--resume'] if resume else cmd


def run_to_end(config: str, work_dir: str, resume: bool,
               timeout: float) -> Tuple[float, float]:
    """Run ``tools/train.py`` to completion.

    Returns:
        tuple: (seconds until training began, i.e. MMEngine's "Checkpoints
        will be saved to" line; seconds until the process ended).
    """
    start = time.monotonic()
    began = None
    proc = subprocess.Popen(train_cmd(config, work_dir, resume), cwd=REPO,
                            env=tool_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    tail = []
    for line in proc.stdout:
        if began is None and 'Checkpoints will be saved to' in line:
            began = time.monotonic() - start
        tail = (tail + [line])[-40:]
    proc.wait(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f'training in {work_dir} failed:\n'
                           f'{"".join(tail)}')
    return began or 0.0, time.monotonic() - start


def run_and_kill(config: str, work_dir: str, delay: float,
                 timeout: float) -> Tuple[bool, float]:
    """Start training, SIGKILL it ``delay`` s after it began training.

    The delay counts from MMEngine's "Checkpoints will be saved to" line of
    this run (start-up time varies a lot on a busy machine).

    Returns:
        tuple: (whether it was killed, seconds it trained if it ended first).
    """
    proc = subprocess.Popen(
        train_cmd(config, work_dir), cwd=REPO, env=tool_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    for line in proc.stdout:
        if 'Checkpoints will be saved to' in line:
            break
    began = time.monotonic()
    # keep draining the pipe in the background so the run never blocks
    drain = threading.Thread(target=lambda: [None for _ in proc.stdout],
                             daemon=True)
    drain.start()
    try:
        proc.wait(timeout=delay)
        return False, time.monotonic() - began
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # workers die with it
        proc.wait(timeout=timeout)
        return True, delay
    finally:
        drain.join(timeout=10)


def final_state(work_dir: str, epochs: int) -> Tuple[int, dict]:
    """(meta iter, state_dict) of ``epoch_{epochs}.pth`` in ``work_dir``."""
    import torch
    import mmzoe  # noqa: F401  (allow-lists MMEngine's checkpoint types)
    ckpt = torch.load(osp.join(work_dir, f'epoch_{epochs}.pth'),
                      map_location='cpu', weights_only=True)
    return ckpt['meta']['iter'], ckpt['state_dict']


def compare(ref: dict, other: dict) -> Optional[str]:
    """None if both state dicts are bit-identical, else what differs."""
    import torch
    if ref.keys() != other.keys():
        return 'different keys'
    for key, value in ref.items():
        got = other[key]
        if value.dtype != got.dtype or value.shape != got.shape:
            return f'{key}: dtype/shape differ'
        if not torch.equal(value.reshape(-1).contiguous().view(torch.uint8),
                           got.reshape(-1).contiguous().view(torch.uint8)):
            return f'{key}: values differ'
    return None


def last_checkpoint_of(work_dir: str) -> str:
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return '(none)'
    with open(path) as f:
        return osp.basename(f.read().strip()) or '(empty)'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--kills', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the kill moments')
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--workers', type=int, default=2,
                        help='training DataLoader workers (persistent)')
    parser.add_argument('--work-root', help='keep the runs here')
    parser.add_argument('--timeout', type=float, default=900)
    args = parser.parse_args(argv)

    root = args.work_root or tempfile.mkdtemp(prefix='kill_resume_')
    os.makedirs(root, exist_ok=True)
    config = make_tiny_recipe(root, epochs=args.epochs, workers=args.workers)
    ref_dir = osp.join(root, 'uninterrupted')
    began, wall = run_to_end(config, ref_dir, resume=False,
                             timeout=args.timeout)
    ref_iter, ref_state = final_state(ref_dir, args.epochs)
    print(f'uninterrupted: {ref_iter} iterations, training from {began:.1f} '
          f's to {wall:.1f} s', flush=True)

    rng = random.Random(args.seed)
    failures = kills = 0
    span = wall - began  # training time of the uninterrupted run
    for trial in range(args.kills):
        work_dir = osp.join(root, f'kill_{trial:02d}')
        for _ in range(3):  # a run that ended before its kill is redone
            shutil.rmtree(work_dir, ignore_errors=True)
            delay = rng.uniform(0, span)
            killed, trained = run_and_kill(config, work_dir, delay,
                                           args.timeout)
            if killed:
                break
            span = min(span, trained)  # the machine got faster: draw less
        kills += killed
        resumed_from = last_checkpoint_of(work_dir)
        run_to_end(config, work_dir, resume=True, timeout=args.timeout)
        it, state = final_state(work_dir, args.epochs)
        diff = compare(ref_state, state)
        ok = it == ref_iter and diff is None
        failures += not ok
        print(f'trial {trial:2d}: kill {delay:5.1f} s into training '
              f'({"killed" if killed else "had finished"}), resumed from '
              f'{resumed_from}: {it} iterations, weights '
              f'{"bit-identical" if diff is None else diff} -> '
              f'{"OK" if ok else "FAIL"}', flush=True)
    print(f'{args.kills - failures}/{args.kills} resumed runs equal the '
          f'uninterrupted one ({ref_iter} iterations, bit-identical weights); '
          f'{kills} of them were killed before they ended; runs in {root}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
