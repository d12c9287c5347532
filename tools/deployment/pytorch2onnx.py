"""Export an mmzoe depth model to ONNX and check it against PyTorch.

Example::

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT --out zoe.onnx
    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT --out zoe.onnx \\
        --dynamic-batch --precision fp16 --flip

The graph is the model's inference path, image in and depth at the image
size out (input ``image``: (B, 3, H, W) float32 RGB 0..255; outputs
``depth`` (B, 1, H, W) metres and, when the neck gives it, ``rel_depth``):
the in-model resize to the network size, the network (optionally
flip-averaged), the resize back and the clamp. The training-only auxiliary
head is removed before export. Fused speed switches are set to their plain
equivalents in the config first (they are printed). The file is checked
with ``onnx.checker`` and ONNX Runtime (CPU) is compared with the PyTorch
user path (``init_model`` + ``inference_depth`` of the config as given) on
a test image; the tool fails (exit 1) when the difference exceeds
``--rtol`` (fp32: largest per-pixel relative difference, default 1e-4;
fp16: mean relative difference, default 1e-2). Bad input exits with 2.
"""
import argparse
import os.path as osp
import sys
import time
import warnings
from typing import List, Optional

import numpy as np

def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(
        description='Export an mmzoe depth model to ONNX (image in, metric '
        'depth at the image size out) and compare ONNX Runtime with PyTorch.')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument(
        '--shape', type=int, nargs=2, metavar=('H', 'W'), default=None,
        help='fix the image size of the graph (default: dynamic H and W; '
        'the network size always comes from the config)')
    parser.add_argument('--dynamic-batch', action='store_true',
                        help='dynamic batch size (default: batch 1)')
    parser.add_argument('--precision', choices=['fp32', 'fp16'],
                        default='fp32', help='network precision')
    parser.add_argument('--opset', type=int, default=None,
                        help='ONNX opset (default 17)')
    parser.add_argument('--flip', action='store_true',
                        help='bake flip averaging into the graph')
    parser.add_argument(
        '--test-image', default=None,
        help='image for the ONNX Runtime vs PyTorch check (default: a '
        'synthetic 480x640 image, or --shape)')
    parser.add_argument(
        '--rtol', type=float, default=None,
        help='tolerance of the check (default: fp32 1e-4 on the largest '
        'per-pixel relative difference, fp16 1e-2 on the mean)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default=None,
        metavar='KEY=VALUE', help='override config settings')
    args = parser.parse_args(argv)
    if args.shape is not None and min(args.shape) < 2:
        parser.error('--shape must be at least 2x2')
    return args


def compare(onnx_out: np.ndarray, ref: np.ndarray) -> dict:
    """Relative differences of two depth maps (ref > 0)."""
    diff = np.abs(onnx_out.astype(np.float64) - ref) / np.abs(ref)
    return dict(max_rel=float(diff.max()), mean_rel=float(diff.mean()))


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mmzoe.utils.tool_errors import ToolInputError, check_file
    check_file(args.config, 'config file')
    check_file(args.checkpoint, 'checkpoint file')
    if args.test_image is not None:
        check_file(args.test_image, 'test image')
    if not args.out.lower().endswith('.onnx'):
        raise ToolInputError(f'--out {args.out}: expected a .onnx file name')

    import torch
    from mmengine.config import Config

    import mmzoe
    from mmzoe.apis import (OnnxDepthPredictor, export_onnx, inference_depth,
                            init_model, load_rgb_image, plain_export_options)
    from mmzoe.apis.onnx_export import DEFAULT_OPSET, require_onnx, test_image

    try:
        require_onnx('onnx', 'onnxruntime')
    except ImportError as err:
        raise ToolInputError(str(err)) from None
    user = dict(args.cfg_options or {})
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(user)
    plain = plain_export_options(cfg)
    for key, value in plain.items():
        print(f'export: {key} = {value!r} (plain equivalent of the fused '
              'switch, which does not export)')
    image = (load_rgb_image(args.test_image) if args.test_image else
             test_image(args.shape or (480, 640)))
    if args.shape is not None and image.shape[:2] != tuple(args.shape):
        raise ToolInputError(
            f'--test-image {args.test_image}: size {image.shape[:2]} differs '
            f'from --shape {tuple(args.shape)}')

    # the PyTorch user path, the config as given (fused switches and all)
    try:
        ref_model = init_model(args.config, args.checkpoint,
                               cfg_options=user)
    except RuntimeError as err:  # checkpoint / config mismatch
        raise ToolInputError(str(err)) from None
    flip = bool(args.flip)
    with torch.no_grad():
        ref = inference_depth(ref_model, image, flip=flip,
                              return_relative=True)
    if plain:
        del ref_model
        model = init_model(args.config, args.checkpoint,
                           cfg_options={**user, **plain})
    else:
        model = ref_model
    # the training-only branch is dropped before tracing (never exported)
    if getattr(model, 'auxiliary_head', None) is not None:
        model.auxiliary_head = None
    opset = args.opset or DEFAULT_OPSET
    start = time.perf_counter()
    info = export_onnx(
        model, args.out,
        image_shape=tuple(args.shape) if args.shape else None,
        dynamic_batch=args.dynamic_batch, precision=args.precision,
        opset=opset, flip=flip,
        metadata=dict(config=osp.basename(args.config),
                      checkpoint=osp.basename(args.checkpoint),
                      mmzoe_version=mmzoe.__version__,
                      torch_version=torch.__version__))
    seconds = time.perf_counter() - start
    del model
    size_mb = osp.getsize(args.out) / 2**20
    print(f'wrote {args.out} ({size_mb:.1f} MiB, opset {opset}, '
          f'{args.precision}, outputs {", ".join(info["outputs"])}) in '
          f'{seconds:.1f} s; onnx.checker: OK')

    predictor = OnnxDepthPredictor(args.out)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        outs = predictor(image, return_relative=predictor.has_relative)
    depth = outs[0] if predictor.has_relative else outs
    stats = compare(depth, ref[0])
    what = (args.test_image or
            f'a synthetic {image.shape[0]}x{image.shape[1]} image')
    line = (f'ONNX Runtime (CPU) vs PyTorch on {what}: depth max relative '
            f'difference {stats["max_rel"]:.2e}, mean {stats["mean_rel"]:.2e}')
    if predictor.has_relative:
        scale = float(np.abs(ref[1]).max()) or 1.0
        rel_diff = float(np.abs(outs[1] - ref[1]).max()) / scale
        line += f'; rel_depth max difference {rel_diff:.2e} of its range'
    print(line)
    if args.precision == 'fp32':
        rtol, value, name = args.rtol or 1e-4, stats['max_rel'], 'max'
    else:
        rtol, value, name = args.rtol or 1e-2, stats['mean_rel'], 'mean'
    if not value <= rtol:
        print(f'error: {args.out}: the {name} relative difference '
              f'{value:.2e} exceeds {rtol:g}; the export is not faithful.',
              file=sys.stderr)
        return 1
    print(f'OK: {name} relative difference {value:.2e} <= {rtol:g}')
    return 0


if __name__ == '__main__':
    from mmzoe.utils.tool_errors import run_tool

    def _main() -> None:
        code = main()
        if code:
            sys.exit(code)

    run_tool(_main, 'pytorch2onnx.py')
