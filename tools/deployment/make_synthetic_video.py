"""Render a synthetic indoor video (camera pans through procedural rooms).

Example::

    python tools/deployment/make_synthetic_video.py rooms.avi \\
        --seconds 10 --fps 10 --scale 0.5

Each room is seen from one standing position (the renderer's random NYU-like
camera) while the camera pans (yaw sweep, slight pitch sway), so every frame
stays inside the room. ``--depth-dir`` also writes the exact metric depth of
every frame as 16-bit PNGs (millimetres) to compare predictions with.
Frames are written with OpenCV (.avi: MJPG, .mp4: mp4v).
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import numpy as np


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out', help='output video (.avi or .mp4)')
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--fps', type=float, default=10.0)
    parser.add_argument('--scale', type=float, default=0.5,
                        help='image scale of 480x640 (default 0.5)')
    parser.add_argument('--rooms', type=int, default=2,
                        help='rooms visited (default 2)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--depth-dir', default=None,
                        help='also write the GT depth of every frame here')
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.fps <= 0 or args.rooms < 1:
        parser.error('--seconds, --fps and --rooms must be positive')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import cv2

    from mmzoe_synthetic import (CAMERA_PRESETS, PinholeCamera,
                                          frame_scene, random_camera, render)
    from mmzoe.visualization import write_depth_png

    num = int(round(args.seconds * args.fps))
    per_room = int(np.ceil(num / args.rooms))
    ext = osp.splitext(args.out)[1].lower()
    fourcc = {'.avi': 'MJPG', '.mp4': 'mp4v'}.get(ext)
    if fourcc is None:
        print(f'error: {args.out}: use .avi or .mp4', file=sys.stderr)
        return 2
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if args.depth_dir:
        os.makedirs(args.depth_dir, exist_ok=True)
    writer = None
    deg = np.pi / 180
    for i in range(num):
        room, k = divmod(i, per_room)
        scene = frame_scene(args.seed, room)
        rng = np.random.default_rng([args.seed, room, 7])
        base = random_camera(rng, scene, args.scale,
                             CAMERA_PRESETS['nyu'])
        phase = k / max(per_room - 1, 1)
        cam = PinholeCamera.nyu(
            tuple(base.position), yaw=(-20 + 40 * phase) * deg,
            pitch=(-8 + 4 * np.sin(2 * np.pi * phase)) * deg,
            scale=args.scale)
        frame = render(scene, cam, np.random.default_rng([args.seed, i]))
        if writer is None:
            h, w = frame.rgb.shape[:2]
            writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(
                *fourcc), args.fps, (w, h))
            if not writer.isOpened():
                print(f'error: {args.out}: OpenCV cannot write it',
                      file=sys.stderr)
                return 2
        writer.write(np.ascontiguousarray(frame.rgb[..., ::-1]))
        if args.depth_dir:
            write_depth_png(
                osp.join(args.depth_dir, f'frame_{i:06d}_depth.png'),
                frame.depth)
    writer.release()
    print(f'wrote {args.out}: {num} frames of {w}x{h} at {args.fps:g} fps '
          f'({args.rooms} rooms)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
