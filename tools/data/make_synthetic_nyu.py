"""Render a synthetic NYU Depth V2 labeled set into an NYU-layout ``.mat``.

The file has the exact layout of ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3,
see ``mmzoe.datasets.utils.nyu_mat``): ``images``, in-painting-free exact
``depths``, Kinect-like ``rawDepths`` (0 = missing), NYU 894 ``labels``,
``names``, ``scenes`` (``'living_room_0001'``...) and ``sceneTypes``. It can
stand in for the real file wherever ``NYUv2LabeledDataset`` is used.

Examples::

    python tools/data/make_synthetic_nyu.py data/synthetic_nyu.mat --num 300
    python tools/data/make_synthetic_nyu.py out.mat --num 16 --seed 1 \\
        --compression gzip --workers 2
"""
import argparse
import multiprocessing as mp
import os
import os.path as osp
import sys
import time
from typing import Iterator, List, Optional

import numpy as np

from mmzoe_synthetic import (CAMERA_PRESETS, frame_scene,
                                      render_frame)
from mmzoe.datasets.utils import write_nyu_labeled_mat


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Render a synthetic NYU Depth V2 labeled .mat')
    parser.add_argument('out', help='output .mat file')
    parser.add_argument('--num', type=int, default=300,
                        help='number of frames')
    parser.add_argument('--seed', type=int, default=0, help='data set seed')
    parser.add_argument('--views-per-scene', type=int, default=2,
                        help='frames rendered in each room')
    parser.add_argument('--scale', type=float, default=1.0,
                        help='image scale (1.0 = 480x640 as NYU; smaller '
                        'sizes scale the intrinsics too)')
    parser.add_argument('--camera', choices=sorted(CAMERA_PRESETS),
                        default='nyu', help='camera pose preset')
    parser.add_argument('--compression', choices=['gzip', 'lzf'],
                        default=None, help='HDF5 compression')
    parser.add_argument('--workers', type=int, default=1,
                        help='rendering processes')
    args = parser.parse_args(argv)
    if args.num < 1:
        parser.error(f'--num must be >= 1, got {args.num}')
    if args.workers < 1:
        parser.error(f'--workers must be >= 1, got {args.workers}')
    if args.views_per_scene < 1:
        parser.error(f'--views-per-scene must be >= 1, got '
                     f'{args.views_per_scene}')
    return args


def _render(job):
    seed, index, scale, views, camera = job
    f = render_frame(seed, index, scale=scale, views_per_scene=views,
                     camera=camera)
    return index, f.rgb, f.depth, f.raw_depth, f.labels


class _FrameStream:
    """Frames rendered in order (in worker processes), handed out one at a
    time to the writer, which reads ``images[i]``, ``depths[i]``... in
    order. Only the current frame is kept in memory."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        jobs = [(args.seed, i, args.scale, args.views_per_scene,
                 args.camera) for i in range(args.num)]
        if args.workers > 1:
            self.pool = mp.get_context('spawn').Pool(args.workers)
            self.it: Iterator = self.pool.imap(_render, jobs)
        else:
            self.pool = None
            self.it = map(_render, jobs)
        self.current = None
        self.t0 = time.time()

    def get(self, i: int, field: int) -> np.ndarray:
        if self.current is None or self.current[0] != i:
            self.current = next(self.it)
            if self.current[0] != i:
                raise RuntimeError(f'frame order broken: want {i}, got '
                                   f'{self.current[0]}')
            n = self.args.num
            if (i + 1) % 10 == 0 or i + 1 == n:
                el = time.time() - self.t0
                print(f'[{i + 1}/{n}] frames rendered, {el:.1f}s elapsed, '
                      f'{el / (i + 1):.3f}s/frame', flush=True)
        return self.current[field]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool.join()


class _Field:

    def __init__(self, stream: _FrameStream, field: int) -> None:
        self.stream, self.field = stream, field

    def __len__(self) -> int:
        return self.stream.args.num

    def __getitem__(self, i: int) -> np.ndarray:
        return self.stream.get(i, self.field)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    scenes = [
        frame_scene(args.seed, i, args.views_per_scene)
        for i in range(args.num)
    ]
    stream = _FrameStream(args)
    tmp = args.out + '.part'
    try:
        write_nyu_labeled_mat(
            tmp,
            images=_Field(stream, 1),
            depths=_Field(stream, 2),
            raw_depths=_Field(stream, 3),
            labels=_Field(stream, 4),
            scenes=[s.name for s in scenes],
            scene_types=[s.scene_type for s in scenes],
            compression=args.compression)
    finally:
        stream.close()
    os.replace(tmp, args.out)
    n_rooms = len({s.name for s in scenes})
    print(f'wrote {args.out}: {args.num} frames from {n_rooms} rooms '
          f'({osp.getsize(args.out) / 2**20:.1f} MiB) in '
          f'{time.time() - stream.t0:.1f}s')


if __name__ == '__main__':
    sys.exit(main())
