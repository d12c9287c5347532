"""Compare mmzoe's user path with an upstream ZoeDepth dump.

The dump is what the reference harness (``run_reference.py --mode dump``,
outside this repository) writes: the input image (RGB in [0, 1] on the
uint8 grid), upstream's relative depth and metric depth at the network
resolution (and ``domain_logits`` for ZoeDepth-NK). This script converts the
image to uint8, runs ``init_model`` + ``inference_depth`` (with
``return_relative=True``, and ``return_domain=True`` for routed models),
resizes upstream's outputs to the image size the way mmzoe does (bilinear,
``align_corners=True``; metric depth clamped to the model's range, for NK
the picked domain's) and prints the largest relative errors: pointwise for
the metric depth, relative to the map's peak for the relative depth (which
is zero or near zero on most pixels under random weights).

Usage::

    python tools/analysis_tools/check_upstream_dump.py CONFIG CKPT DUMP.pt \
        [DUMP2.pt ...] [--tol 1e-4]

Exit code 0 when every dump is within ``--tol`` (and, for NK, the same
domain is picked), 1 otherwise, 2 on bad input.
"""
import argparse
import sys

import numpy as np
import torch
import torch.nn.functional as F


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='mmzoe vs an upstream ZoeDepth dump (inference_depth).')
    parser.add_argument('config', help='mmzoe config')
    parser.add_argument('checkpoint', help='converted checkpoint')
    parser.add_argument('dumps', nargs='+', help='upstream dump files')
    parser.add_argument('--tol', type=float, default=1e-4,
                        help='max relative error allowed (default 1e-4)')
    return parser.parse_args(argv)


def _resize(x: torch.Tensor, hw) -> torch.Tensor:
    x = x.float()
    while x.ndim < 4:
        x = x[None]
    return F.interpolate(x, size=tuple(hw), mode='bilinear',
                         align_corners=True)[0, 0]


def _max_rel(ours: np.ndarray, ref: torch.Tensor) -> float:
    ref = ref.double().numpy()
    return float(np.max(np.abs(ours.astype(np.float64) - ref) /
                        np.maximum(np.abs(ref), 1e-12)))


def _max_rel_to_peak(ours: np.ndarray, ref: torch.Tensor) -> float:
    """Largest error relative to the largest magnitude of ``ref``.

    The relative depth is non-negative with many (near-)zero pixels under
    random weights, where a pointwise relative error means nothing.
    """
    ref = ref.double().numpy()
    return float(np.max(np.abs(ours.astype(np.float64) - ref)) /
                 max(float(np.max(np.abs(ref))), 1e-12))


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmzoe.apis import inference_depth, init_model
    try:
        model = init_model(args.config, args.checkpoint)
    except (FileNotFoundError, RuntimeError, KeyError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    head = model.decode_head
    routed = hasattr(head, 'router')
    ok = True
    for path in args.dumps:
        try:
            blob = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as e:  # noqa: BLE001
            print(f'error: {path}: cannot read the dump: {e}',
                  file=sys.stderr)
            return 2
        x = blob['input'][0]
        img = (x.permute(1, 2, 0) * 255).round().clamp(0, 255).to(
            torch.uint8).numpy()
        h, w = img.shape[:2]
        if routed:
            depth, rel, domain = inference_depth(
                model, img, return_relative=True, return_domain=True)
            logits = blob['domain_logits'][0]
            up_dom = int(torch.softmax(logits, -1).argmax())
            up_name = head.domain_names[up_dom]
            conf = head.domains[up_dom]
            lo, hi = float(conf['min_depth']), float(conf['max_depth'])
        else:
            depth, rel = inference_depth(model, img, return_relative=True)
            domain = up_name = None
            lo, hi = float(head.min_depth), float(head.max_depth)
        ref_depth = _resize(blob['metric_depth'], (h, w)).clamp(lo, hi)
        ref_rel = _resize(blob['rel_depth'], (h, w))
        e_depth = _max_rel(depth, ref_depth)
        e_rel = _max_rel_to_peak(rel, ref_rel)
        clamped = float(((_resize(blob['metric_depth'], (h, w)) < lo) |
                         (_resize(blob['metric_depth'], (h, w)) > hi)
                         ).float().mean())
        line = (f'{path}: input {h}x{w}: max rel. error metric depth '
                f'{e_depth:.3e}, relative depth (to its peak) {e_rel:.3e} '
                f'(upstream depth range [{float(ref_depth.min()):.4g}, '
                f'{float(ref_depth.max()):.4g}] m, {clamped:.2%} of pixels '
                'outside the clamp range)')
        good = e_depth <= args.tol and e_rel <= args.tol
        if routed:
            line += f'; domain ours {domain!r}, upstream {up_name!r}'
            good = good and domain == up_name
        print(line + ('' if good else '  <-- FAIL'))
        ok = ok and good
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
