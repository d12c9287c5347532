"""What users run, against "upstream at its best", interleaved A B A B.

Two rows per mode, timed alternately in this one process (the same machine
state for both, so their ratio is what compares; absolute times on a shared
machine drift):

* ``baseline``: the plain eager model in upstream ZoeDepth's order of
  operations (every model speed switch of :mod:`mmzoe.models.speed_switches`
  off), with the same process settings as the user path (the CPU runtime),
  and what a user adds to upstream in two lines for low precision:
  ``torch.autocast`` and channels-last. Inference: ``forward_depths`` on the
  network-size input. Training: forward + SILog + backward + gradient clip
  0.1 + AdamW, as upstream's trainer does.
* ``user``: ``init_model(config, precision=...)`` + ``inference_depth`` on an
  HxWx3 uint8 image of the network size; training: ``model.train_step``
  with the optim wrapper of the config (its param groups, clip, AdamW).

Both rows start from the same (perturbed random) weights; inference also
reports the depth difference between them. ``--side`` runs one row alone (in
separate processes, the peak RSS of each side compares too).

Examples::

    python tools/analysis_tools/benchmark_paths.py \\
        configs/zoedepth/zoe_swin2b_nyu-384x384.py --mode infer --threads 2
    python tools/analysis_tools/benchmark_paths.py \\
        configs/zoedepth/zoe_swin2b_nyu-384x384.py --mode infer \\
        --precision bf16
    python tools/analysis_tools/benchmark_paths.py \\
        configs/zoedepth/zoe_swin2b_nyu-384x384.py --mode train --repeats 3
"""
import argparse
import copy
import json
import os
import os.path as osp
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from bench_utils import (make_data_samples, make_inputs, perturb_weights,
                         process_peak_rss)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='User paths vs upstream at its best (A B A B).')
    parser.add_argument('config', help='model or full config')
    parser.add_argument('--mode', choices=['infer', 'train'],
                        default='infer')
    parser.add_argument('--precision', choices=['fp32', 'bf16', 'fp16'],
                        default='fp32',
                        help='infer: init_model(precision=...) for the user '
                        'row, autocast (+ channels-last) for the baseline')
    parser.add_argument('--side', choices=['both', 'baseline', 'user'],
                        default='both')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write results here')
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0 or args.batch_size < 1:
        parser.error('--repeats/--batch-size must be >= 1, --warmup >= 0')
    if args.mode == 'train' and args.precision != 'fp32':
        parser.error('--precision is for --mode infer (training precision '
                     'is the config\'s optim_wrapper, e.g. AmpOptimWrapper)')
    return args


_DTYPES = dict(bf16=torch.bfloat16, fp16=torch.float16)


def _load_cfg(path: str):
    from mmengine.config import Config
    if not osp.isfile(path):
        raise FileNotFoundError(f'config not found: {path}')
    cfg = Config.fromfile(path)
    cfg.model.pop('core_checkpoint', None)
    return cfg


def _user_model(cfg, args) -> torch.nn.Module:
    import warnings

    from mmzoe.apis import init_model
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='init_model: no checkpoint')
        model = init_model(cfg, None, device=args.device,
                           precision='fp32' if args.mode == 'train' else
                           args.precision)
    return model


def _baseline_model(cfg, state: dict, args) -> torch.nn.Module:
    from mmzoe.models.speed_switches import reference_config
    from mmzoe.registry import MODELS
    ref = reference_config(cfg)
    ref.model.train_cfg = None
    torch.manual_seed(args.seed)
    model = MODELS.build(ref.model)
    model.load_state_dict(state)
    model.to(args.device)
    if args.precision != 'fp32':
        model.to(memory_format=torch.channels_last)
    return model


def _infer_fns(cfg, args) -> Dict[str, Callable[[], object]]:
    from mmzoe.apis import inference_depth
    user = _user_model(cfg, args)
    if args.precision != 'fp32':
        from mmzoe.models.utils import set_inference_precision
        set_inference_precision(user, 'fp32')
    perturb_weights(user, args.seed)
    state = {k: v.detach().clone() for k, v in user.state_dict().items()}
    if args.precision != 'fp32':
        from mmzoe.models.utils import set_inference_precision
        set_inference_precision(user, args.precision)
    base = _baseline_model(cfg, state, args).eval()
    x = make_inputs(base, args.batch_size, args.device, args.seed)
    h, w = x.shape[-2:]
    rng = np.random.default_rng(args.seed)
    imgs = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            for _ in range(args.batch_size)]
    # the baseline gets exactly what the user path's preprocessor makes
    x = torch.stack([torch.from_numpy(i.transpose(2, 0, 1).copy())
                     for i in imgs]).float().div(255).sub(0.5).div(0.5)
    x = x.to(args.device)
    if args.precision != 'fp32':
        x = x.contiguous(memory_format=torch.channels_last)

    def baseline():
        with torch.no_grad(), torch.autocast(
                torch.device(args.device).type,
                dtype=_DTYPES.get(args.precision, torch.float32),
                enabled=args.precision != 'fp32'):
            return base.forward_depths(x, flip=False)['depth']

    def user_path():
        return inference_depth(user, imgs, batch_size=args.batch_size)

    return dict(baseline=baseline, user=user_path)


def _train_fns(cfg, args) -> Dict[str, Callable[[], object]]:
    from mmengine.optim import build_optim_wrapper

    from mmzoe.registry import MODELS
    torch.manual_seed(args.seed)
    user = MODELS.build(cfg.model).to(args.device)
    perturb_weights(user, args.seed)
    state = {k: v.detach().clone() for k, v in user.state_dict().items()}
    base = _baseline_model(cfg, state, args).train()
    user.train()
    wrapper_cfg = cfg.get('optim_wrapper', dict(
        type='OptimWrapper', clip_grad=dict(max_norm=0.1),
        optimizer=dict(type='AdamW', lr=1.61e-4, weight_decay=0.01)))
    wrapper = build_optim_wrapper(user, copy.deepcopy(wrapper_cfg))
    lr = wrapper.optimizer.param_groups[0]['lr']
    opt = torch.optim.AdamW(base.parameters(), lr=lr, weight_decay=0.01)
    x = make_inputs(base, args.batch_size, args.device, args.seed)
    samples = make_data_samples(base, args.batch_size, args.device, args.seed)
    imgs = [((xi * 0.5 + 0.5) * 255).round().clamp(0, 255).to(torch.uint8)
            for xi in x.cpu()]
    data = dict(inputs=imgs, data_samples=copy.deepcopy(samples))

    def baseline():
        opt.zero_grad(set_to_none=True)
        losses = base.loss(x, samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(base.parameters(), 0.1)
        opt.step()

    def user_path():
        user.train_step(data, wrapper)

    return dict(baseline=baseline, user=user_path)


def _interleave(fns: Dict[str, Callable[[], object]], warmup: int,
                repeats: int) -> Dict[str, List[float]]:
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = parse_args(argv)
    from mmzoe.utils import register_all_modules
    from mmzoe.utils.cpu_runtime import (apply_cpu_runtime,
                                         cpu_runtime_settings)
    cfg = _load_cfg(args.config)
    # both sides get the same process settings, before any large op
    runtime = apply_cpu_runtime(
        cpu_runtime_settings(cfg.get('env_cfg', None)), args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=True)
    fns = (_infer_fns if args.mode == 'infer' else _train_fns)(cfg, args)
    depth_diff = None
    if args.mode == 'infer':
        ref = fns['baseline']().float().cpu()
        out = fns['user']()
        out = torch.from_numpy(np.stack(out))[:, None]
        depth_diff = dict(
            max_rel=float(((out - ref).abs() / ref).max()),
            mean_rel=float(((out - ref).abs() / ref).mean()))
    if args.side != 'both':
        fns = {args.side: fns[args.side]}
    times = _interleave(fns, args.warmup, args.repeats)
    res = dict(
        mode=args.mode, precision=args.precision, batch_size=args.batch_size,
        threads=torch.get_num_threads(), cpu_runtime=runtime,
        times_s=times,
        median_s={k: statistics.median(v) for k, v in times.items()},
        process_peak_rss_bytes=process_peak_rss(),
        user_vs_baseline_depth=depth_diff)
    if len(times) == 2:
        res['ratio_user_over_baseline'] = statistics.median(
            u / b for u, b in zip(times['user'], times['baseline']))
    line = ', '.join(f'{k} {v:.3f} s' for k, v in res['median_s'].items())
    print(f'{args.mode} {args.precision} batch {args.batch_size}, '
          f'{res["threads"]} threads: median {line}')
    if 'ratio_user_over_baseline' in res:
        print(f'ratio user/baseline = {res["ratio_user_over_baseline"]:.3f}')
    if depth_diff is not None:
        print(f'user vs baseline depth: max rel {depth_diff["max_rel"]:.2e}'
              f', mean rel {depth_diff["mean_rel"]:.2e}')
    print(f'process peak RSS {res["process_peak_rss_bytes"] / 2**30:.2f} GiB')
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2, default=str)
    return res


if __name__ == '__main__':
    main()
