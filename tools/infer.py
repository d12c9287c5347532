"""Metric depth for images, folders or globs with a ZoeDepth model.

Example::

    python tools/infer.py CONFIG CHECKPOINT demo/nyu_samples/rgb \\
        --out work_dirs/infer --panel --gt demo/nyu_samples/depth --ply

Writes per image ``<name>_depth.png`` (uint16, millimetres, 0 = invalid),
``<name>_depth.npy`` (float32 metres), ``<name>_depth_color.png`` (inferno,
fixed range, colour bar in metres), with ``--panel`` ``<name>_panel.png``
(RGB | relative depth | GT | prediction) and with ``--ply`` ``<name>.ply``
(coloured point cloud, one vertex per valid pixel). Images that cannot be
read (or whose predicted depth has a NaN/inf value) are reported by name and
get no output files, the others are still processed, and the exit code is
then 1.

ONNX Runtime backend (a graph from ``tools/deployment/pytorch2onnx.py``; same
outputs, same resize-in / resize-out contract)::

    python tools/infer.py --backend onnxruntime zoe.onnx demo/nyu_samples/rgb

Video: a video file, a camera (``camera:0``) or, with ``--video``, a folder
of frames gives ``<name>_depth.mp4`` (colour, fixed ``--vmin``/``--vmax``
range, input frame size) and with ``--save-frames`` a folder of 16-bit PNGs;
unreadable frames are reported and skipped::

    python tools/infer.py CONFIG CHECKPOINT room.mp4 --out work_dirs/video
"""
import argparse
import glob
import os
import os.path as osp
import re
import sys
import warnings
from functools import lru_cache
from typing import Dict, List, Optional, Tuple

import numpy as np

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp',
                  '.ppm', '.pgm')
GT_EXTENSIONS = ('.png', '.npy')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(
        description='Predict metric depth with an mmzoe model.',
        epilog=BACKEND_HELP)
    parser.add_argument(
        'config', help='model config file (--backend onnxruntime: the .onnx '
        'file, followed by the input)')
    parser.add_argument(
        'checkpoint', help='checkpoint file (--backend onnxruntime: input)')
    parser.add_argument(
        'input', nargs='?', default=None,
        help='an image file, a folder of images, a glob pattern (quote it, '
        'e.g. "data/*.jpg"; "**" recurses), a video file, or a camera '
        '("camera:0")')
    add_deploy_args(parser)
    parser.add_argument(
        '--out', default='work_dirs/infer', help='output folder')
    parser.add_argument(
        '--flip', action='store_true', default=None,
        help='average with the horizontally flipped prediction (default: '
        'the config\'s model.test_cfg.flip)')
    parser.add_argument(
        '--panel', action='store_true',
        help='also write RGB | relative | GT | prediction panels')
    parser.add_argument(
        '--gt', default=None,
        help='ground-truth depth for the panels: a file (single input) or a '
        'folder; uint16 millimetre PNGs (0 = invalid) or float .npy metres. '
        'A folder is matched by file stem, "<stem>_depth", or the digits of '
        'the name (rgb_00050.jpg <-> sync_depth_00050.png)')
    parser.add_argument(
        '--ply', action='store_true', help='also write coloured PLY clouds')
    parser.add_argument(
        '--ply-ascii', action='store_true', help='ASCII instead of binary PLY')
    parser.add_argument('--fx', type=float, default=None,
                        help='focal length x in pixels (default: NYU RGB)')
    parser.add_argument('--fy', type=float, default=None,
                        help='focal length y in pixels (default: NYU RGB)')
    parser.add_argument('--cx', type=float, default=None,
                        help='principal point x (default: NYU RGB)')
    parser.add_argument('--cy', type=float, default=None,
                        help='principal point y (default: NYU RGB)')
    parser.add_argument('--vmin', type=float, default=0.0,
                        help='colour range start in metres (default 0)')
    parser.add_argument('--vmax', type=float, default=10.0,
                        help='colour range end in metres (default 10)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images per forward pass (default 1)')
    parser.add_argument(
        '--precision', choices=['fp32', 'bf16', 'fp16'], default='fp32',
        help='pytorch backend: the core\'s weights cast once '
        '(init_model(precision=...)), metric head and output in float32; '
        'bf16 pays off only on CPUs with bf16 units, fp16 on GPUs')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default=None,
        metavar='KEY=VALUE',
        help='override config settings, e.g. model.test_cfg.flip=True')
    args = parser.parse_args(argv)
    resolve_backend_args(parser, args)
    if not args.vmax > args.vmin:
        parser.error(f'--vmax ({args.vmax}) must be larger than --vmin '
                     f'({args.vmin})')
    if args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    return args


BACKEND_HELP = (
    'Backends: "pytorch" (CONFIG CHECKPOINT INPUT) and "onnxruntime" '
    '(MODEL.onnx INPUT, a graph from tools/deployment/pytorch2onnx.py; CPU). '
    'On an idle 2-core CPU, SwinV2-B at 384x384, the pytorch backend is the '
    'faster one (ONNX Runtime took 1.10x its time, 0.76x upstream '
    "ZoeDepth's); ONNX Runtime is for deployment without PyTorch, same depth "
    'within 1e-6; see docs/deployment.md.')


def add_deploy_args(parser: argparse.ArgumentParser) -> None:
    """Backend, video and camera-intrinsics options."""
    parser.add_argument(
        '--backend', choices=['pytorch', 'onnxruntime'], default='pytorch',
        help='inference backend (default pytorch)')
    parser.add_argument(
        '--intrinsics', default=None,
        help='camera intrinsics for --ply: a 3x3 K (text or JSON), an '
        'Open3D PinholeCameraIntrinsic JSON or a COLMAP cameras.txt; '
        '--fx/--fy/--cx/--cy override single values')
    video = parser.add_argument_group('video and camera input')
    video.add_argument(
        '--video', action='store_true',
        help='treat a folder / glob of images as the frames of one video')
    video.add_argument(
        '--video-out', default=None,
        help='depth video file (.mp4, .avi, ...; default '
        '<out>/<name>_depth.mp4)')
    video.add_argument('--save-frames', action='store_true',
                       help='also write a 16-bit PNG per frame')
    video.add_argument('--fps', type=float, default=None,
                       help='output frame rate (default: the source\'s, or '
                       '30 for frames and cameras)')
    video.add_argument('--max-frames', type=int, default=None,
                       help='stop after this many frames (cameras: until '
                       'Ctrl-C otherwise)')
    video.add_argument(
        '--smooth', type=float, default=0.0, metavar='ALPHA',
        help='temporal smoothing: exponential moving average of the depth, '
        'weight ALPHA of the past frames in [0, 1) (default 0 = off)')


def resolve_backend_args(parser: argparse.ArgumentParser,
                         args: argparse.Namespace) -> None:
    """Map the positionals of each backend; check the video options."""
    if args.backend == 'onnxruntime':
        if args.input is not None:
            parser.error('--backend onnxruntime takes MODEL.onnx INPUT (no '
                         'config/checkpoint)')
        args.onnx, args.input = args.config, args.checkpoint
        args.config = args.checkpoint = None
        if args.cfg_options:
            parser.error('--cfg-options needs the pytorch backend (the '
                         'ONNX graph is fixed at export)')
    elif args.input is None:
        parser.error('the following arguments are required: input')
    if not 0.0 <= args.smooth < 1.0:
        parser.error('--smooth must be in [0, 1)')
    if args.max_frames is not None and args.max_frames < 1:
        parser.error('--max-frames must be >= 1')


def build_predictor(args: argparse.Namespace):
    """``predict(images, flip, return_relative, batch_size)`` of a backend.

    Raises the loading errors of the backend (reported by ``main``).
    """
    from functools import partial

    if args.backend == 'onnxruntime':
        from mmzoe.apis import OnnxDepthPredictor
        predictor = OnnxDepthPredictor(args.onnx,
                                       batch_size=args.batch_size)
        if args.flip and not predictor.flip:
            raise RuntimeError(f'{args.onnx}: exported without flip '
                               'averaging; re-export with --flip for --flip.')
        args.flip = predictor.flip
        return predictor
    from mmzoe.apis import inference_depth, init_model
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options,
                       precision=getattr(args, 'precision', 'fp32'))
    return partial(inference_depth, model)


def resolve_intrinsics(args: argparse.Namespace,
                       image_size: Tuple[int, int]) -> Tuple[dict, bool]:
    """(fx, fy, cx, cy) for an image size, and whether they are NYU's."""
    from mmzoe.apis.camera_intrinsics import load_intrinsics
    from mmzoe.visualization import NYU_INTRINSICS
    base = dict(NYU_INTRINSICS)
    if args.intrinsics is not None:
        base = load_intrinsics(args.intrinsics, image_size=image_size)
    values = {
        k: (getattr(args, k) if getattr(args, k) is not None else base[k])
        for k in ('fx', 'fy', 'cx', 'cy')
    }
    default = args.intrinsics is None and all(
        getattr(args, k) is None for k in ('fx', 'fy', 'cx', 'cy'))
    return values, default


def video_source(args: argparse.Namespace):
    """The video file / camera index / frame list of the input, or None."""
    from mmzoe.apis.video_io import camera_index, is_video_file
    if is_video_file(args.input):
        return args.input
    cam = camera_index(args.input)
    if cam is not None:
        return cam
    if args.video:
        return collect_inputs(args.input)
    return None


def video_name(source) -> str:
    """Output stem of a video source."""
    if isinstance(source, int):
        return f'camera{source}'
    if isinstance(source, list):
        folder = osp.dirname(source[0]) if source else 'frames'
        return osp.basename(osp.normpath(folder)) or 'frames'
    return osp.splitext(osp.basename(source))[0]


def run_video(args: argparse.Namespace, source, predict) -> int:
    """Depth video (and optional per-frame PNGs) of a video source."""
    from mmengine.utils import ProgressBar

    from mmzoe.apis.video_io import (DepthVideoWriter, FrameReader,
                                     TemporalSmoother, VideoError,
                                     predict_video)
    if isinstance(source, list) and not source:
        _error(f'{args.input}: no image file found for --video.')
        return 2
    try:
        reader = FrameReader(source, max_frames=args.max_frames,
                             fps=args.fps)
    except VideoError as err:
        _error(str(err))
        return 2
    ignored = [f for f, on in (('--panel', args.panel), ('--ply', args.ply),
                               ('--gt', args.gt is not None)) if on]
    if ignored:
        print(f'warning: {", ".join(ignored)} not used for video input.',
              file=sys.stderr)
    name = video_name(source)
    out_file = args.video_out or osp.join(args.out, f'{name}_depth.mp4')
    frames_dir = (osp.join(args.out, f'{name}_depth_frames')
                  if args.save_frames else None)
    os.makedirs(args.out, exist_ok=True)
    progress = ProgressBar(reader.num_frames or 0)

    def on_error(msg: str) -> None:
        print(file=sys.stderr)
        _error(msg)

    def predict_frames(frames):
        return predict(frames, flip=args.flip,
                       batch_size=args.batch_size)

    try:
        writer = DepthVideoWriter(out_file, reader.fps, args.vmin, args.vmax)
    except VideoError as err:
        reader.close()
        _error(str(err))
        return 2
    try:
        with writer:
            stats = predict_video(
                predict_frames, reader, writer, frames_dir=frames_dir,
                batch_size=args.batch_size,
                smoother=TemporalSmoother(args.smooth), progress=progress,
                on_error=on_error)
    except VideoError as err:
        _error(str(err))
        return 2
    print(flush=True)
    fps = stats.frames_written / stats.seconds if stats.seconds else 0.0
    h, w = writer.size or (0, 0)
    print(f'{stats.frames_written}/{stats.frames_in} frames of '
          f'{reader.label} -> {out_file} ({w}x{h}, {reader.fps:g} fps, '
          f'depth {args.vmin:g}-{args.vmax:g} m), {fps:.2f} frames/s' +
          (f'; 16-bit PNGs in {frames_dir}' if frames_dir else '') +
          ('; stopped by Ctrl-C' if stats.interrupted else ''))
    if stats.failed:
        _error(f'{len(stats.failed)} frame(s) skipped')
        return 1
    return 0


def collect_inputs(pattern: str) -> List[str]:
    """Image files of a file path, a folder (sorted, not recursive) or glob."""
    if osp.isfile(pattern):
        return [pattern]
    if osp.isdir(pattern):
        files = [
            osp.join(pattern, f) for f in sorted(os.listdir(pattern))
            if f.lower().endswith(IMG_EXTENSIONS)
            and osp.isfile(osp.join(pattern, f))
        ]
        return files
    files = sorted(glob.glob(pattern, recursive=True))
    return [f for f in files if osp.isfile(f)]


def _digits(name: str) -> Optional[str]:
    groups = re.findall(r'\d+', name)
    return groups[-1] if groups else None


@lru_cache(maxsize=8)
def _gt_candidates(folder: str) -> Tuple[str, ...]:
    return tuple(f for f in sorted(os.listdir(folder))
                 if f.lower().endswith(GT_EXTENSIONS))


def find_gt(image_path: str, gt: Optional[str],
            single_input: bool) -> Optional[str]:
    """Ground-truth file for an image (None when there is none)."""
    if gt is None:
        return None
    if osp.isfile(gt):
        return gt if single_input else None
    stem = osp.splitext(osp.basename(image_path))[0]
    candidates = _gt_candidates(gt)
    stems = {osp.splitext(f)[0]: f for f in candidates}
    for key in (stem, f'{stem}_depth'):
        if key in stems:
            return osp.join(gt, stems[key])
    digits = _digits(stem)
    if digits is not None:
        hits = [f for f in candidates
                if _digits(osp.splitext(f)[0]) == digits]
        if len(hits) == 1:
            return osp.join(gt, hits[0])
    return None


def load_gt(path: str) -> np.ndarray:
    """GT depth in metres: uint16 mm PNG or float .npy (0 = invalid)."""
    from mmzoe.visualization import read_depth_png
    if path.lower().endswith('.npy'):
        gt = np.load(path, allow_pickle=False)
        if gt.ndim != 2:
            raise ValueError(f'{path}: GT depth must be HxW, got {gt.shape}.')
        return gt.astype(np.float32)
    return read_depth_png(path)


def unique_stem(path: str, used: Dict[str, int]) -> str:
    """Output name of an input file, made unique among the inputs."""
    stem = osp.splitext(osp.basename(path))[0]
    if stem not in used:
        used[stem] = 0
        return stem
    used[stem] += 1
    return f'{stem}_{used[stem]}'


def write_outputs(args: argparse.Namespace, name: str, rgb: np.ndarray,
                  depth: np.ndarray, rel: Optional[np.ndarray],
                  gt: Optional[np.ndarray], intrinsics: dict) -> None:
    import cv2

    from mmzoe.visualization import (add_colorbar, colorize_depth,
                                     make_depth_panel, save_depth_as_ply,
                                     write_depth_png)
    out = args.out
    write_depth_png(osp.join(out, f'{name}_depth.png'), depth)
    np.save(osp.join(out, f'{name}_depth.npy'), depth.astype(np.float32))
    color = add_colorbar(
        colorize_depth(depth, args.vmin, args.vmax), args.vmin, args.vmax)
    _imwrite(cv2, osp.join(out, f'{name}_depth_color.png'), color)
    if args.panel:
        panel = make_depth_panel(rgb, depth, rel_depth=rel, gt_depth=gt,
                                 vmin=args.vmin, vmax=args.vmax)
        _imwrite(cv2, osp.join(out, f'{name}_panel.png'), panel)
    if args.ply:
        save_depth_as_ply(osp.join(out, f'{name}.ply'), depth, rgb,
                          binary=not args.ply_ascii, **intrinsics)


def _imwrite(cv2, path: str, rgb: np.ndarray) -> None:
    if not cv2.imwrite(path, np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f'{path}: could not write the image.')


def _error(msg: str) -> None:
    print(f'error: {msg}', file=sys.stderr, flush=True)


def load_predictor(args: argparse.Namespace):
    """The backend's predict function, or None after reporting the error."""
    import mmzoe  # noqa: F401
    try:
        return build_predictor(args)
    except (FileNotFoundError, RuntimeError, KeyError, TypeError,
            ImportError) as err:
        _error(str(err))
        return None


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.intrinsics is not None:
        from mmzoe.apis.camera_intrinsics import (IntrinsicsError,
                                                  load_intrinsics)
        try:
            load_intrinsics(args.intrinsics)  # fail before any work
        except IntrinsicsError as err:
            _error(str(err))
            return 2
    source = video_source(args)
    if source is not None:
        predict = load_predictor(args)
        if predict is None:
            return 2
        return run_video(args, source, predict)
    files = collect_inputs(args.input)
    if not files:
        _error(f'{args.input}: no image file found (file, folder with '
               f'{"/".join(IMG_EXTENSIONS)} files, or glob).')
        return 2
    if args.gt is not None and not osp.exists(args.gt):
        _error(f'{args.gt}: --gt path not found.')
        return 2
    if args.gt is not None and not args.panel:
        print('warning: --gt is only drawn in the panels; add --panel.',
              file=sys.stderr)
    if args.gt is not None and osp.isfile(args.gt) and len(files) > 1:
        _error(f'{args.gt}: a single GT file needs a single input image; '
               'give a folder of GT files instead.')
        return 2

    import mmzoe  # noqa: F401
    from mmengine.utils import ProgressBar

    from mmzoe.apis import ImageLoadError, load_rgb_image
    from mmzoe.apis.camera_intrinsics import IntrinsicsError
    from mmzoe.utils.tool_errors import NonFiniteError

    predict = load_predictor(args)
    if predict is None:
        return 2
    os.makedirs(args.out, exist_ok=True)
    used: Dict[str, int] = {}
    names = {f: unique_stem(f, used) for f in files}
    failed: List[str] = []
    warned_size = False
    progress = ProgressBar(len(files))
    for start in range(0, len(files), args.batch_size):
        chunk = files[start:start + args.batch_size]
        loaded = []
        for path in chunk:
            try:
                loaded.append((path, load_rgb_image(path)))
            except ImageLoadError as err:
                print(file=sys.stderr)
                _error(str(err))
                failed.append(path)
                progress.update()
        if not loaded:
            continue
        try:
            result = predict(
                [rgb for _, rgb in loaded], flip=args.flip,
                return_relative=args.panel, batch_size=args.batch_size)
        except Exception as err:  # report the batch, go on with the rest
            print(file=sys.stderr)
            if isinstance(err, NonFiniteError) and err.index is not None:
                _error(f'{loaded[err.index][0]}: {err.detail}')
            else:
                _error(f'{", ".join(p for p, _ in loaded)}: inference '
                       f'failed: {type(err).__name__}: {err}')
            failed.extend(p for p, _ in loaded)
            for _ in loaded:
                progress.update()
            continue
        depths, rels = result if args.panel else (result, [None] * len(
            loaded))
        for (path, rgb), depth, rel in zip(loaded, depths, rels):
            try:
                gt = None
                if args.panel:
                    gt_path = find_gt(path, args.gt, len(files) == 1)
                    if args.gt is not None and gt_path is None:
                        print(file=sys.stderr)
                        print(f'warning: {path}: no matching GT in {args.gt}',
                              file=sys.stderr)
                    if gt_path is not None:
                        gt = load_gt(gt_path)
                intrinsics, default_intrinsics = (
                    resolve_intrinsics(args, rgb.shape[:2]) if args.ply else
                    ({}, False))
                if (args.ply and default_intrinsics and not warned_size
                        and rgb.shape[:2] != (480, 640)):
                    warnings.warn(
                        f'{path}: image size {rgb.shape[:2]} is not 480x640; '
                        'the default NYU intrinsics will distort the point '
                        'cloud (give --fx --fy --cx --cy).')
                    warned_size = True
                write_outputs(args, names[path], rgb, depth, rel, gt,
                              intrinsics)
            except IntrinsicsError as err:  # names its file
                print(file=sys.stderr)
                _error(str(err))
                return 2
            except (OSError, ValueError) as err:
                print(file=sys.stderr)
                _error(f'{path}: {err}')
                failed.append(path)
            progress.update()
    print(flush=True)
    done = len(files) - len(failed)
    print(f'{done}/{len(files)} images processed, outputs in {args.out}')
    if failed:
        _error(f'{len(failed)} image(s) failed: {", ".join(failed)}')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
