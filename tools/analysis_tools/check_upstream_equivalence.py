"""Compare mmzoe with upstream ZoeDepth on converted upstream weights.

Upstream's outputs come from dumps written by the reference harness (outside
this repository; its README describes it), e.g. for ZoeD_M12_N::

    run_reference.py --mode dump --perturb --save-weights \
        --midas-model-type DPT_BEiT_L_384 --img-size 384,512 \
        --sizes 384x512,480x640 --tag beitl384 --out /tmp/ref

which writes ``zoe_beitl384_random_seed0.pt`` (random perturbed weights in
the layout of a released ``ZoeD_M12_*.pt``) and one
``zoe_beitl384_io_HxW_seed0.pt`` per size (input in [0, 1] on the uint8
grid, upstream's ``metric_depth`` and ``rel_depth`` at the network
resolution). This script::

    python tools/analysis_tools/check_upstream_equivalence.py \
        configs/_base_/models/zoedepth_beitl384.py \
        /tmp/ref/zoe_beitl384_random_seed0.pt \
        /tmp/ref/zoe_beitl384_io_384x512_seed0.pt \
        /tmp/ref/zoe_beitl384_io_480x640_seed0.pt --tol 1e-4

1. converts the weights with ``convert_zoedepth_any_keys`` (the function of
   ``tools/model_converters/zoedepth_to_mmzoe.py``: ZoeD_M12_N / _K / _NK
   layouts; every key must be placed) and checks that names and shapes
   match the config's model; an mmzoe checkpoint (one our converters
   wrote, keys ``backbone.*`` / ``neck.*`` / ``decode_head.*``) is used as
   it is (no upstream parameter count then);
2. builds the model through ``mmzoe.apis.init_model`` and runs every dump's
   image (uint8 RGB) through ``inference_depth(..., return_relative=True)``;
3. compares with upstream's outputs resized as upstream's ``infer`` does
   (bilinear, ``align_corners=True``, to the input size; metric depth clamped
   to the head's depth range; for routed ZoeD_M12_NK models, to the range of
   the domain upstream's ``domain_logits`` pick, and that domain must be the
   one mmzoe picks): max pointwise relative error of metric depth;
   for relative depth (a ReLU output with zeros and values near zero, and
   defined only up to scale) the max abs error divided by its maximum, with
   the pointwise relative error over pixels above 1e-3 of the maximum
   printed for information;
4. prints the parameter counts (ours; upstream's float tensors, and those
   the converter drops as unused).

For ZoeD_M12_NK, e.g.::

    python tools/analysis_tools/check_upstream_equivalence.py \
        configs/_base_/models/zoedepth_nk_beitl384.py \
        checkpoints/zoed_m12_nk-mmzoe.pth /tmp/ref/zoe_nk_io_384x512_seed0.pt

Exit status 0 when both errors are within ``--tol`` for every dump (and the
same domain is picked) and the parameter count equals upstream's minus the
unused tensors the converter drops, 1 otherwise, 2 on bad input.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
from typing import Dict, Set

import numpy as np
import torch
import torch.nn.functional as F


_MMZOE_PREFIXES = ('backbone.', 'neck.', 'decode_head.', 'auxiliary_head.')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Compare mmzoe with upstream ZoeDepth dumps.')
    parser.add_argument('config', help='mmzoe model config')
    parser.add_argument('weights', help='upstream ZoeDepth state dict (.pt) '
                        'or an mmzoe checkpoint converted from one')
    parser.add_argument('dumps', nargs='+', help='upstream io dumps (.pt)')
    parser.add_argument('--tol', type=float, default=1e-4,
                        help='max relative error allowed (default 1e-4)')
    parser.add_argument('--convert', default='zoedepth',
                        choices=['zoedepth'],
                        help='converter of the weights')
    parser.add_argument('--threads', type=int, default=0,
                        help='torch.set_num_threads (0: leave)')
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument(
        '--cfg-options', nargs='+', default=None, metavar='KEY=VALUE',
        help='config overrides, e.g. model.backbone.attn_impl=timm')
    return parser.parse_args(argv)


def _errors(ours: np.ndarray, ref: np.ndarray,
            floor_frac: float = 0.0) -> Dict[str, float]:
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    mag = np.abs(ref.astype(np.float64))
    mask = mag > floor_frac * mag.max() if floor_frac else mag > 0
    # an all-zero map (a relative depth under random weights): the error
    # relative to a 1e-12 floor, so any non-zero answer fails
    rel = diff[mask] / mag[mask] if mask.any() else diff.ravel() / 1e-12
    return dict(
        max_abs=float(diff.max()),
        max_rel=float(rel.max()),
        max_abs_over_max=float(diff.max() / max(float(mag.max()), 1e-12)),
        mean_rel=float(rel.mean()),
        ref_range=[float(ref.min()), float(ref.max())])


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmzoe.apis import inference_depth, init_model
    from mmzoe.models.utils.ckpt_convert import (CheckpointConversionError,
                                                 convert_zoedepth_any_keys,
                                                 load_state_dict_file)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg_options = None
    if args.cfg_options:
        cfg_options = {}
        for item in args.cfg_options:
            key, _, value = item.partition('=')
            try:
                cfg_options[key] = json.loads(value)
            except json.JSONDecodeError:
                cfg_options[key] = value
    for path in [args.config, args.weights] + args.dumps:
        if not osp.isfile(path):
            print(f'error: {path}: file not found', file=sys.stderr)
            return 2
    try:
        upstream = load_state_dict_file(args.weights)
        given_mmzoe = bool(upstream) and all(
            k.startswith(_MMZOE_PREFIXES) for k in upstream)
        converted = dict(upstream) if given_mmzoe else \
            convert_zoedepth_any_keys(upstream)
    except (CheckpointConversionError, RuntimeError, TypeError) as e:
        print(f'error: {args.weights}: {e}', file=sys.stderr)
        return 2
    used = set(upstream) if given_mmzoe else _sources(upstream, converted)
    dropped = sorted(
        k for k in upstream
        if upstream[k].is_floating_point() and not any(
            k.endswith(s) for s in ('relative_position_index', 'K_minus_1'))
        and k not in used)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = osp.join(tmp, 'converted.pth')
        torch.save(dict(state_dict=converted), ckpt)
        try:
            model = init_model(args.config, ckpt, cfg_options=cfg_options)
        except (FileNotFoundError, RuntimeError, KeyError) as e:
            print(f'error: {args.weights}: {e}', file=sys.stderr)
            return 2
    ours_params = sum(p.numel() for p in model.parameters())
    up_float = sum(v.numel() for k, v in upstream.items()
                   if v.is_floating_point() and not k.endswith('K_minus_1'))
    up_dropped = sum(upstream[k].numel() for k in dropped)
    head = model.decode_head
    routed = hasattr(head, 'router')  # ZoeD_M12_NK: one head per domain
    report = dict(
        config=args.config,
        weights=args.weights,
        params_ours=ours_params,
        params_upstream=up_float,
        params_upstream_unused_dropped=up_dropped,
        dropped_keys=dropped,
        converted_tensors=len(converted),
        upstream_tensors=len(upstream),
        results={})
    ok = given_mmzoe or ours_params == up_float - up_dropped
    for path in args.dumps:
        try:
            blob = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as e:  # noqa: BLE001 (one line naming the file)
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            print(f'error: {path}: cannot read the dump: {first}',
                  file=sys.stderr)
            return 2
        x = blob['input']
        h, w = x.shape[-2:]
        img = (x[0].permute(1, 2, 0) * 255).round().clamp(0, 255).to(
            torch.uint8).numpy()
        with torch.no_grad():
            if routed:
                depth, rel, domain = inference_depth(
                    model, img, return_relative=True, return_domain=True)
                up_domain = int(blob['domain_logits'][0].argmax())
                conf = head.domains[up_domain]
                min_d, max_d = float(conf['min_depth']), float(
                    conf['max_depth'])
            else:
                depth, rel = inference_depth(model, img, return_relative=True)
                min_d, max_d = float(head.min_depth), float(head.max_depth)
        up_depth = F.interpolate(
            blob['metric_depth'].float(), size=(h, w), mode='bilinear',
            align_corners=True).clamp(min_d, max_d)[0, 0].numpy()
        up_rel = blob['rel_depth'].float()
        if up_rel.dim() == 3:
            up_rel = up_rel[:, None]
        up_rel = F.interpolate(
            up_rel, size=(h, w), mode='bilinear',
            align_corners=True)[0, 0].numpy()
        res = dict(
            metric=_errors(np.asarray(depth), up_depth),
            relative=_errors(np.asarray(rel), up_rel, floor_frac=1e-3),
            network_shape=list(blob['metric_depth'].shape[-2:]))
        domain_note = ''
        if routed:
            res['domain'] = dict(mmzoe=str(domain),
                                 upstream=head.domain_names[up_domain])
            ok &= res['domain']['mmzoe'] == res['domain']['upstream']
            domain_note = (f"; domain mmzoe {res['domain']['mmzoe']}, "
                           f"upstream {res['domain']['upstream']}")
        ok &= res['metric']['max_rel'] <= args.tol
        ok &= res['relative']['max_abs_over_max'] <= args.tol
        report['results'][f'{h}x{w}'] = res
        print(f'{osp.basename(path)} ({h}x{w}): metric max rel '
              f"{res['metric']['max_rel']:.3g} (abs "
              f"{res['metric']['max_abs']:.3g} m); relative depth max abs "
              f"{res['relative']['max_abs']:.3g} = "
              f"{res['relative']['max_abs_over_max']:.3g} of its maximum "
              f"(pointwise rel above 1e-3 of the max: "
              f"{res['relative']['max_rel']:.3g}){domain_note}")
    if given_mmzoe:
        print(f'parameters: ours {ours_params:,} (an mmzoe checkpoint was '
              'given: no upstream count to compare)')
    else:
        print(f'parameters: ours {ours_params:,}; upstream float tensors '
              f'{up_float:,} of which {up_dropped:,} unused or rebuilt and '
              f'dropped by the converter ({len(dropped)} tensors: '
              f'{", ".join(dropped)})')
    report['ok'] = bool(ok)
    if args.json:
        if osp.dirname(args.json):
            os.makedirs(osp.dirname(args.json), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
    print('OK' if ok else f'FAILED (tolerance {args.tol})')
    return 0 if ok else 1


def _sources(upstream: Dict[str, torch.Tensor],
             converted: Dict[str, torch.Tensor]) -> Set[str]:
    """Upstream keys whose tensor object went into ``converted``."""
    ids = {id(v) for v in converted.values()}
    return {k for k, v in upstream.items() if id(v) in ids}


if __name__ == '__main__':
    sys.exit(main())
