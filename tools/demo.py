"""End-to-end CPU demo: synthetic data -> training -> evaluation -> panels.

One command, about 10-12 minutes on 2 CPU cores (default config
``configs/demo/zoedepth_resnet18s-segdistill_1xb8-1200it_synthetic-nyu-128.py``):

1. renders a synthetic NYU Depth V2 labeled set (procedural rooms, NYU
   intrinsics, exact depth, Kinect-like raw depth, NYU 894 labels) into an
   NYU-layout ``.mat`` with ``tools/data/make_synthetic_nyu.py``;
2. holds out the last rooms for evaluation (no room is in both sets);
3. evaluates the randomly initialised model on the held-out rooms with the
   ZoeDepth protocol (``ZoeDepthMetric``), trains the small ZoeDepth with
   the segmentation-distillation branch on CPU, and evaluates again;
4. predicts depth for the three real NYU frames in ``demo/nyu_samples``
   with :func:`mmzoe.apis.inference_depth` (a model trained on synthetic
   rooms only: expect rough, not accurate, depth on real images);
5. writes panels ``RGB | relative | GT | prediction`` and a metrics table
   (``metrics.md``, ``metrics.json``) into the work directory.

The console shows a few progress lines with ETA, the metrics table and where
the panels are; MMEngine's environment/config/hook dumps and iteration logs
go to the log file under ``<work-dir>/train/`` (its path is printed), the
renderer's output to ``<work-dir>/data/render.log``. Arguments it cannot
run with (a room split without training rooms, non-positive counts, a scale
without a whole-pixel image size) are refused in one line, exit status 2,
before anything is rendered (:func:`validate_args`).

Example::

    python tools/demo.py                       # everything, defaults
    python tools/demo.py --work-dir work_dirs/demo --iters 600
    python tools/demo.py --cfg-options optim_wrapper.optimizer.lr=1e-3
"""
import argparse
import contextlib
import datetime
import io
import json
import logging
import math
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmengine.config import DictAction

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(
    REPO, 'configs', 'demo',
    'zoedepth_resnet18s-segdistill_1xb8-1200it_synthetic-nyu-128.py')
PROG = 'tools/demo.py'
METRIC_KEYS = ('a1', 'a2', 'a3', 'abs_rel', 'rmse', 'log_10', 'silog')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='mmzoe end-to-end CPU demo')
    p.add_argument('--config', default=DEFAULT_CONFIG, help='demo config')
    p.add_argument('--work-dir', default=osp.join('work_dirs', 'demo'))
    p.add_argument('--num-frames', type=int, default=3000,
                   help='synthetic frames to render')
    p.add_argument('--views-per-scene', type=int, default=3,
                   help='frames per synthetic room')
    p.add_argument('--val-rooms', type=int, default=20,
                   help='rooms held out for evaluation')
    p.add_argument('--scale', type=float, default=0.25,
                   help='synthetic image scale (0.25 = 120x160, the '
                   'training size; many cheap rooms generalise better than '
                   'fewer large frames)')
    p.add_argument('--seed', type=int, default=0, help='data seed')
    p.add_argument('--camera', default='steady',
                   help='camera pose preset of the synthetic frames')
    p.add_argument('--iters', type=int, default=None,
                   help='training iterations (default: the config)')
    p.add_argument('--threads', type=int, default=2,
                   help='torch CPU threads')
    p.add_argument('--workers', type=int, default=2,
                   help='processes for rendering')
    p.add_argument('--samples', default=osp.join(REPO, 'demo',
                                                 'nyu_samples'),
                   help='folder with rgb/ and depth/ of real NYU frames')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings (key=value, as in '
                   'tools/train.py)')
    p.add_argument('--min-delta1', type=float, default=0.70,
                   help='exit with an error if the trained held-out '
                   'delta1 is below this (runs of the defaults gave '
                   '0.77-0.85, untrained 0.000)')
    args = p.parse_args(argv)
    error = validate_args(args)
    if error is not None:
        # one line, before anything is rendered or imported
        print(f'{PROG}: error: {error}', file=sys.stderr, flush=True)
        sys.exit(2)
    return args


def num_rooms(num_frames: int, views_per_scene: int) -> int:
    """Rooms the renderer makes of ``num_frames`` frames: frame ``i`` is in
    room ``i // views_per_scene`` (``mmzoe_synthetic.frame_scene``), so the
    last room may have fewer views."""
    return -(-num_frames // views_per_scene)


def validate_args(args: argparse.Namespace) -> Optional[str]:
    """The first problem of the demo's arguments, or None if they work.

    Checked before anything is rendered: counts and sizes the renderer or
    the training would reject later (with a traceback, or after minutes of
    rendering), and a room split that leaves rooms for both training and
    evaluation (:func:`split_by_room` holds out the last ``--val-rooms``).

    Args:
        args (argparse.Namespace): What :func:`parse_args` parsed.

    Returns:
        str | None: One line naming the argument, the problem and what to
        pass, or None.
    """
    from mmzoe_synthetic import CAMERA_PRESETS, PinholeCamera
    if not osp.isfile(args.config):
        return f'config file not found: {args.config}'
    for flag, value in (('--num-frames', args.num_frames),
                        ('--views-per-scene', args.views_per_scene),
                        ('--val-rooms', args.val_rooms),
                        ('--threads', args.threads),
                        ('--workers', args.workers)):
        if value < 1:
            return f'{flag} must be >= 1, got {value}'
    if args.iters is not None and args.iters < 1:
        return f'--iters must be >= 1, got {args.iters}'
    if args.seed < 0:
        return f'--seed must be >= 0, got {args.seed}'
    try:  # the renderer's own rule
        if not math.isfinite(args.scale):
            raise ValueError(args.scale)
        PinholeCamera.nyu(scale=args.scale)
    except ValueError:
        return (f'--scale must be > 0 and make 480*scale x 640*scale a whole '
                f'number of pixels (e.g. 0.25 = 120x160, 0.5 = 240x320), '
                f'got {args.scale:g}')
    if args.camera not in CAMERA_PRESETS:
        return (f'--camera must be one of {", ".join(sorted(CAMERA_PRESETS))}'
                f', got {args.camera!r}')
    rooms = num_rooms(args.num_frames, args.views_per_scene)
    if args.val_rooms >= rooms:
        fix = (f'pass --val-rooms at most {rooms - 1} or '
               if rooms > 1 else 'pass ')
        return (f'--val-rooms {args.val_rooms} leaves no room for training: '
                f'--num-frames {args.num_frames} at --views-per-scene '
                f'{args.views_per_scene} makes {rooms} room'
                f'{"s" if rooms > 1 else ""}; {fix}--num-frames at least '
                f'{args.val_rooms * args.views_per_scene + 1}')
    return None


def make_data(args: argparse.Namespace, data_dir: str) -> str:
    """Render the synthetic set (reused if the same settings made it)."""
    mat = osp.join(data_dir, 'synthetic_nyu.mat')
    stamp_path = osp.join(data_dir, 'synthetic_nyu.json')
    stamp = dict(num=args.num_frames, seed=args.seed, scale=args.scale,
                 views_per_scene=args.views_per_scene, camera=args.camera)
    if osp.isfile(mat) and osp.isfile(stamp_path):
        with open(stamp_path, encoding='utf-8') as f:
            if json.load(f) == stamp:
                print(f'[demo] reusing {mat}')
                return mat
    os.makedirs(data_dir, exist_ok=True)
    cmd = [
        sys.executable,
        osp.join(REPO, 'tools', 'data', 'make_synthetic_nyu.py'), mat,
        '--num', str(args.num_frames), '--seed', str(args.seed), '--scale',
        str(args.scale), '--views-per-scene', str(args.views_per_scene),
        '--workers', str(args.workers), '--camera', args.camera
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    log_path = osp.join(data_dir, 'render.log')
    print(f'[demo] rendering {args.num_frames} synthetic frames (log: '
          f'{log_path})', flush=True)
    with open(log_path, 'w', encoding='utf-8') as log:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        next_quarter = 1
        for line in proc.stdout:
            log.write(line)
            if line.startswith('wrote '):
                print(f'[demo] {line.strip()}', flush=True)
            done = _rendered(line)
            if done is not None and done[0] * 4 >= next_quarter * done[1]:
                n, total, elapsed = done
                eta = elapsed / n * (total - n)
                print(f'[demo] rendered {n}/{total} frames, '
                      f'{elapsed:.0f}s elapsed, eta {_hms(eta)}', flush=True)
                while done[0] * 4 >= next_quarter * done[1]:
                    next_quarter += 1
        if proc.wait() != 0:
            sys.exit(f'[demo] rendering failed (exit {proc.returncode}), '
                     f'see {log_path}')
    with open(stamp_path, 'w', encoding='utf-8') as f:
        json.dump(stamp, f)
    return mat


def _rendered(line: str) -> Optional[Tuple[int, int, float]]:
    """``(done, total, elapsed_s)`` of a renderer progress line
    (``[i/n] frames rendered, 12.3s elapsed, ...``), else None."""
    match = re.match(r'\[(\d+)/(\d+)\] frames rendered, ([\d.]+)s', line)
    if match is None:
        return None
    return int(match[1]), int(match[2]), float(match[3])


def _hms(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(round(seconds))))


def quiet_runner_class():
    """:class:`ZoeRunner` whose console shows only warnings and errors.

    MMEngine's environment, config and hook dumps and the iteration logs
    still go to the log file in the work dir (at the config's
    ``log_level``; what ZoeRunner logs before its logger exists, the
    ``cpu_runtime`` line, is in the environment dump there too); the demo
    prints its own progress lines. Two warnings
    that MMEngine's ``CheckpointHook`` raises itself on every run (it calls
    the deprecated ``FileClient``, which uses the deprecated
    ``HardDiskBackend`` alias) are kept out of the console too (they stay
    in the file).
    """
    from mmzoe.engine.runner import ZoeRunner

    class _QuietRunner(ZoeRunner):

        def build_logger(self, *args, **kwargs):
            return quiet_console(super().build_logger(*args, **kwargs))

    return _QuietRunner


def quiet_console(logger: logging.Logger) -> logging.Logger:
    """Show only warnings and errors of ``logger`` on the console (its file
    handler, if any, keeps its level)."""
    for handler in logger.handlers:
        if type(handler) is logging.StreamHandler:
            handler.setLevel(logging.WARNING)
            handler.addFilter(_mmengine_internal_deprecations)
    return logger


def _mmengine_internal_deprecations(record: logging.LogRecord) -> bool:
    msg = record.getMessage()
    return not (msg.startswith('"FileClient" will be deprecated')
                or msg.startswith('"HardDiskBackend" is the alias'))


def progress_hook(interval: int):
    """A hook printing ``iteration, loss, eta`` every ``interval``
    iterations and at the last one (ETA from MMEngine's IterTimerHook)."""
    from mmengine.hooks import Hook

    class _DemoProgressHook(Hook):
        priority = 'LOW'  # after IterTimerHook updated the ETA

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None) -> None:
            it = runner.iter + 1
            if it % interval and it != runner.max_iters:
                return
            # RuntimeInfoHook (priority VERY_HIGH) logged this iteration
            hub = runner.message_hub
            loss = hub.get_scalar('train/loss').current() if \
                'train/loss' in hub.log_scalars else float('nan')
            eta = hub.get_info('eta', 0.0)
            print(f'[demo] train {it}/{runner.max_iters}  loss {loss:.3f}  '
                  f'eta {_hms(eta)}', flush=True)

    return _DemoProgressHook()


def split_by_room(mat: str, data_dir: str, val_rooms: int) -> Dict:
    """Write train/val index files; the last ``val_rooms`` rooms are val."""
    import h5py

    from mmzoe.datasets.utils import read_mat_string_list
    with h5py.File(mat, 'r') as f:
        scenes = read_mat_string_list(f, 'scenes')
    rooms = list(dict.fromkeys(scenes))
    if not 0 < val_rooms < len(rooms):
        raise ValueError(f'{mat}: cannot hold out {val_rooms} of '
                         f'{len(rooms)} rooms')
    held = set(rooms[-val_rooms:])
    train = [i for i, s in enumerate(scenes) if s not in held]
    val = [i for i, s in enumerate(scenes) if s in held]
    for name, idx in (('train', train), ('val', val)):
        np.savetxt(osp.join(data_dir, f'{name}_indices.txt'), idx, fmt='%d')
    print(f'[demo] split by room: {len(train)} train frames '
          f'({len(rooms) - val_rooms} rooms), {len(val)} held-out frames '
          f'({val_rooms} rooms)')
    return dict(train=train, val=val, scenes=scenes)


def _fmt_row(name: str, m: Dict[str, float]) -> str:
    return '| ' + name + ' | ' + ' | '.join(
        f'{m[k]:.3f}' if k in m else '-' for k in METRIC_KEYS) + ' |'


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    t_start = time.time()
    import torch
    torch.set_num_threads(args.threads)
    from mmengine.config import Config

    import mmzoe  # noqa: F401  (registers modules)
    from mmzoe.apis import inference_depth, init_model, load_rgb_image
    from mmzoe.evaluation.metrics import ZoeDepthMetric
    from mmzoe.visualization import make_depth_panel, read_depth_png

    work_dir = osp.abspath(args.work_dir)
    data_dir = osp.join(work_dir, 'data')
    mat = make_data(args, data_dir)
    split = split_by_room(mat, data_dir, args.val_rooms)
    t_data = time.time() - t_start

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = osp.join(work_dir, 'train')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = data_dir
    if args.iters is not None:
        orig = cfg.train_cfg.max_iters
        cfg.train_cfg.max_iters = args.iters
        cfg.train_cfg.val_interval = args.iters
        cfg.default_hooks.checkpoint.interval = args.iters
        for sched in cfg.param_scheduler:  # stretch the schedule
            for key in ('begin', 'end'):
                if key in sched:
                    sched[key] = int(round(sched[key] * args.iters / orig))
            if 'end' in sched:  # a very short run: keep every phase >= 1
                sched['end'] = max(sched['end'], sched.get('begin', 0) + 1)
    iters = cfg.train_cfg.max_iters
    from mmengine.logging import MMLogger
    quiet_console(MMLogger.get_current_instance())
    runner = quiet_runner_class().from_cfg(cfg)
    runner.register_hook(progress_hook(max(iters // 6, 1)))
    log_file = next((h.baseFilename for h in runner.logger.handlers
                     if isinstance(h, logging.FileHandler)), None)
    print(f'[demo] MMEngine log (environment, config, hooks, iterations): '
          f'{log_file}', flush=True)

    t0 = time.time()
    before = runner.test()
    print(f'[demo] untrained model, held-out rooms: delta1 = '
          f'{before["a1"]:.3f} ({time.time() - t0:.0f}s)')
    t0 = time.time()
    runner.train()
    t_train = time.time() - t0
    after = runner.test()
    print(f'[demo] trained model ({iters} iterations, {t_train:.0f}s), '
          f'held-out rooms: delta1 = {after["a1"]:.3f}')
    ckpt = osp.join(cfg.work_dir, f'iter_{iters}.pth')

    # ----------------------------------------------------- inference + panels
    with contextlib.redirect_stdout(io.StringIO()) as loading:
        # MMEngine's load_checkpoint prints "Loads checkpoint by ..." with
        # print(): into the log file with the rest
        model = init_model(cfg, ckpt)
    for line in loading.getvalue().splitlines():
        runner.logger.info(line)
    panel_dir = osp.join(work_dir, 'panels')
    os.makedirs(panel_dir, exist_ok=True)
    import cv2

    def save(name: str, panel: np.ndarray) -> None:
        cv2.imwrite(osp.join(panel_dir, name), panel[..., ::-1])

    from mmzoe.datasets.utils import NYULabeledMatReader
    reader = NYULabeledMatReader(mat, with_labels=False)
    for k, idx in enumerate(split['val'][::max(len(split['val']) // 4, 1)]
                            [:4]):
        rgb, gt = reader.read_image(idx), reader.read_depth(idx)
        depth, rel = inference_depth(model, rgb, return_relative=True)
        save(f'synthetic_heldout_{idx:04d}.png',
             make_depth_panel(rgb, depth, rel_depth=rel, gt_depth=gt))
    reader.close()

    real: Dict[str, Dict[str, float]] = {}
    real_metric = ZoeDepthMetric(crop='eigen', min_depth=1e-3, max_depth=10)
    rgb_dir = osp.join(args.samples, 'rgb')
    names = sorted(n for n in os.listdir(rgb_dir)
                   if n.lower().endswith(('.jpg', '.png'))) if osp.isdir(
                       rgb_dir) else []
    for name in names:
        rgb = load_rgb_image(osp.join(rgb_dir, name))
        digits = ''.join(c for c in name if c.isdigit())
        gt_path = osp.join(args.samples, 'depth', f'sync_depth_{digits}.png')
        gt = read_depth_png(gt_path) if osp.isfile(gt_path) else None
        depth, rel = inference_depth(model, rgb, return_relative=True)
        save(f'nyu_{osp.splitext(name)[0]}.png',
             make_depth_panel(rgb, depth, rel_depth=rel, gt_depth=gt))
        if gt is not None:
            m = real_metric.evaluate_image(torch.from_numpy(depth),
                                           torch.from_numpy(gt))
            if m is not None:
                real[name] = m
    if not names:
        print(f'[demo] no real frames in {rgb_dir}: skipped')

    # ----------------------------------------------------------- metrics table
    lines = [
        '# mmzoe CPU demo', '',
        f'Config: `{osp.relpath(args.config, REPO)}`, {iters} iterations '
        f'({t_train:.0f} s of training, {args.threads} threads). Data: '
        f'{args.num_frames} synthetic frames '
        f'({len(split["train"])} train / {len(split["val"])} held-out, '
        f'{args.val_rooms} held-out rooms). ZoeDepth protocol: '
        '1e-3 < gt < 10 m, prediction resized to GT and clipped, per-image '
        'metrics averaged; synthetic: no crop; real NYU: Eigen crop, raw '
        'Kinect depth as GT.', '',
        '| evaluation | ' + ' | '.join(METRIC_KEYS) + ' |',
        '|---' * (len(METRIC_KEYS) + 1) + '|',
        _fmt_row('held-out synthetic rooms, untrained', before),
        _fmt_row('held-out synthetic rooms, trained', after),
    ]
    for name, m in real.items():
        lines.append(_fmt_row(f'real NYU {name} (zero-shot, synthetic '
                              'training only)', m))
    table = '\n'.join(lines) + '\n'
    with open(osp.join(work_dir, 'metrics.md'), 'w', encoding='utf-8') as f:
        f.write(table)
    with open(osp.join(work_dir, 'metrics.json'), 'w',
              encoding='utf-8') as f:
        json.dump(dict(untrained=before, trained=after, real_nyu=real,
                       iters=iters, train_seconds=t_train,
                       data_seconds=t_data), f, indent=2)
    print('\n' + table)
    print(f'[demo] panels in {panel_dir}; total {time.time() - t_start:.0f}s')
    if after['a1'] < args.min_delta1:
        print(f'[demo] FAILED: held-out delta1 {after["a1"]:.3f} < '
              f'{args.min_delta1}')
        return 1
    print(f'[demo] OK: held-out delta1 {after["a1"]:.3f} >= '
          f'{args.min_delta1} (untrained {before["a1"]:.3f})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
