"""Model-internals benchmark of a ZoeDepth config (forward, training step).

It times ``forward_depths`` / ``loss`` + backward + AdamW of a model built from
the config with the speed switches of :mod:`mmzoe.models.speed_switches`
turned on or off; what users run (``inference_depth``, ``train_step``) is
timed by ``benchmark_paths.py``, the data pipeline by ``benchmark_data.py``.

Prints the parameter count, the FLOPs of one forward (counted with
``torch.utils.flop_counter``: 2 per multiply-add of conv / matmul / attention;
element-wise ops, softmax and interpolation are not counted), latency
median / min / max over ``--repeats`` timed runs after ``--warmup`` runs,
images/s, and the peak memory of the timed runs (on CPU: the peak resident set
size of this process, reset just before the timed runs through
``/proc/self/clear_refs``; the whole-process peak is printed too; on CUDA: the
caching allocator's peak). In ``infer`` mode the metric depth is also compared
with plain eager fp32 (timm attention, no channels-last, no autocast, no
compile) on the same weights and input.

Without ``--checkpoint`` the model has random weights, perturbed by
``mmzoe.models.utils.perturb_weights`` (post-norm weights ``1 + 0.1·noise``,
every other parameter ``+ 0.02·noise``): timm zero-initialises SwinV2's post-norms, which would make
every block an identity map and hide the attention from the comparison.

Examples::

    # fp32 inference, fused attention, 2 threads
    python tools/analysis_tools/benchmark.py \\
        configs/_base_/models/zoedepth_swin2b.py --attn-impl sdpa --threads 2
    # bf16 autocast
    python tools/analysis_tools/benchmark.py \\
        configs/_base_/models/zoedepth_swin2b.py --attn-impl sdpa --amp bf16
    # training step (forward + SILog + backward + AdamW), checkpointing
    python tools/analysis_tools/benchmark.py \\
        configs/_base_/models/zoedepth_swin2b.py --mode train --with-cp \\
        --repeats 3 --warmup 1
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import torch

# (network_size, perturb_weights, process_peak_rss: re-exported for
# get_flops.py and the tests)
from bench_utils import (RssPhases, _environment, _fmt_bytes,  # noqa: F401
                         _model_info, _uncompile, autocast_ctx, build_model,
                         compile_model, count_flops, depth_errors,
                         machine_probe, make_data_samples, make_inputs,
                         network_size, perturb_weights, process_peak_rss,
                         timed_stats)

from mmzoe.models.backbones.zoe_swinv2 import ATTENTION_ALIASES
from mmzoe.models.speed_switches import (reference_config, set_switch,
                                         switch_state)

ATTN_IMPLS = ('timm', ) + tuple(sorted(ATTENTION_ALIASES))


# --------------------------------------------------------------- arguments
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark a ZoeDepth config (speed, FLOPs, memory).')
    parser.add_argument('config', help='config file')
    parser.add_argument('--checkpoint', help='weights to load (optional)')
    parser.add_argument(
        '--mode', choices=['infer', 'train'], default='infer')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='default: 1')
    parser.add_argument('--amp', choices=['bf16', 'fp16'], default=None,
                        help='autocast dtype (default: fp32)')
    parser.add_argument(
        '--channels-last', action='store_true', default=None,
        help='channels-last convolutions in the DPT neck '
        '(model.neck.channels_last=True)')
    parser.add_argument(
        '--nchw', dest='channels_last', action='store_false', default=None,
        help='NCHW convolutions in the DPT neck '
        '(model.neck.channels_last=False)')
    parser.add_argument(
        '--tf32', action='store_true',
        help='CUDA: allow TF32 in fp32 matmuls and convolutions (off by '
        'default here, so fp32 rows are strict fp32; torch itself enables '
        'it for cuDNN convolutions)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile backbone, neck and decode head')
    parser.add_argument(
        '--eager', action='store_true',
        help='every speed switch of the config off first (timm attention, '
        'NCHW neck, upstream\'s log-binomial order); the switches below '
        'still apply')
    parser.add_argument(
        '--attn-impl', choices=ATTN_IMPLS, default=None,
        help='SwinV2 window attention (model.backbone.attn_impl); '
        'default: the config\'s')
    parser.add_argument(
        '--with-cp', action='store_true',
        help='activation checkpointing of the SwinV2 blocks, the DPT fusion '
        'blocks and the metric head stages (model.{backbone,neck,'
        'decode_head}.with_cp)')
    parser.add_argument(
        '--cpu-malloc', choices=['default', 'reuse', 'release'],
        default='default',
        help="glibc malloc policy (mmzoe.utils.cpu_runtime): 'reuse' keeps "
        "freed memory (no page faults per step), 'release' returns it at "
        'once (smallest RSS)')
    parser.add_argument('--flush-denormal', action='store_true',
                        help='flush denormal floats to zero on all threads')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (CPU)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--no-probe', action='store_true',
        help='CPU: skip the machine probe (matmul / copy speed) before and '
        'after the timed runs; its numbers are then missing from the output')
    parser.add_argument('--no-perturb', action='store_true',
                        help='keep the random init (no checkpoint given)')
    parser.add_argument('--no-compare', action='store_true',
                        help='infer: skip the comparison with eager fp32')
    parser.add_argument('--no-flops', action='store_true',
                        help='skip the FLOP count')
    parser.add_argument(
        '--rss-phases', action='store_true',
        help='train, CPU: sample the RSS every 2 ms and print its peak in the '
        'forward, backward and optimizer phases and between steps')
    parser.add_argument('--lr', type=float, default=1.61e-4,
                        help='train: AdamW learning rate')
    parser.add_argument(
        '--fused-adamw', action='store_true',
        help='train: AdamW(fused=True) (one kernel per parameter; in a '
        'config: optim_wrapper.optimizer.fused=True). Default: torch\'s '
        'default AdamW (a per-tensor loop on CPU), as upstream')
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument(
        '--cfg-options', nargs='+', default=None,
        help='override config keys (key=value, mmengine DictAction)')
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error('--repeats must be >= 1 and --warmup >= 0')
    if args.batch_size is not None and args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    if args.rss_phases and (args.mode != 'train' or args.device != 'cpu'
                            or not osp.exists('/proc/self/statm')):
        parser.error('--rss-phases needs --mode train on CPU under Linux')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: CUDA is not available here')
    if args.amp == 'fp16' and args.device == 'cpu':
        print('warning: fp16 autocast on CPU is slow on most CPUs; bf16 is '
              'the CPU choice', file=sys.stderr)
    return args


def _cfg_options(items: Optional[List[str]]) -> Dict:
    from mmengine.config import DictAction
    if not items:
        return {}
    ns = argparse.Namespace()
    DictAction(option_strings=[], dest='o')(None, ns, items)
    return ns.o


def load_config(args: argparse.Namespace):
    """Read the config and apply ``--cfg-options`` and the model switches
    (through :mod:`mmzoe.models.speed_switches`)."""
    from mmengine.config import Config
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(_cfg_options(args.cfg_options))
    if 'model' not in cfg:
        raise KeyError(f'{args.config} has no "model" section')
    if args.eager:
        cfg = reference_config(cfg)
    if args.attn_impl is not None:
        set_switch(cfg, 'attn_impl', args.attn_impl)
    if args.with_cp:
        set_switch(cfg, 'with_cp', True)
    if args.channels_last is not None:
        set_switch(cfg, 'channels_last', args.channels_last)
    return cfg


def eager_reference_cfg(model_cfg):
    """The model config with every model speed switch off (plain eager
    fp32: timm attention, NCHW, upstream's order of operations)."""
    from mmengine.config import ConfigDict
    return reference_config(ConfigDict(model=model_cfg)).model


def bench_infer(cfg, args: argparse.Namespace) -> Dict:
    device = args.device
    bs = args.batch_size or 1
    model = build_model(cfg.model, device, args.checkpoint,
                        not args.no_perturb, args.seed).eval()
    res = dict(_model_info(model))
    inputs = make_inputs(model, bs, device, args.seed)
    if args.compile:
        compile_model(model)

    def run():
        with torch.no_grad(), autocast_ctx(device, args.amp):
            return model.forward_depths(inputs, flip=False)['depth']

    res.update(timed_stats(run, args, device, bs))
    out = run().float()
    if args.compile:
        _uncompile(model)
    if not args.no_flops:
        res['gflop_per_forward'] = count_flops(run) / 1e9 / bs
    if not args.no_compare:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        del model
        ref_model = build_model(
            eager_reference_cfg(cfg.model), device, state_dict=state,
            seed=args.seed).eval()
        with torch.no_grad():
            ref = ref_model.forward_depths(inputs, flip=False)['depth']
        res.update({f'vs_fp32_eager_{k}': v
                    for k, v in depth_errors(out, ref).items()})
    return res


def bench_train(cfg, args: argparse.Namespace) -> Dict:
    device = args.device
    bs = args.batch_size or 1
    model = build_model(cfg.model, device, args.checkpoint,
                        not args.no_perturb, args.seed).train()
    res = dict(_model_info(model))
    inputs = make_inputs(model, bs, device, args.seed)
    samples = make_data_samples(model, bs, device, args.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optim_kwargs = dict(fused=True) if args.fused_adamw else {}
    optim = torch.optim.AdamW(
        params, lr=args.lr, weight_decay=0.01, **optim_kwargs)
    if args.compile:
        compile_model(model)
    losses: List[float] = []
    phases = RssPhases() if args.rss_phases else None

    def mark(phase: str) -> None:
        if phases is not None:
            phases.phase = phase

    def step():
        if phases is not None and len(losses) == args.warmup:
            phases.reset()  # peaks of the timed runs only
        optim.zero_grad(set_to_none=True)
        mark('forward')
        with autocast_ctx(device, args.amp):
            loss_dict = model.loss(inputs, samples)
            loss = sum(v for k, v in loss_dict.items() if 'loss' in k)
        mark('backward')
        loss.backward()
        mark('optimizer')
        optim.step()
        mark('between')
        losses.append(float(loss.detach()))

    # Same drop-path draws whatever the switches consumed while building.
    torch.manual_seed(args.seed)
    res.update(timed_stats(step, args, device, bs))
    if phases is not None:
        res['rss_phase_peaks_bytes'] = phases.stop()
    res['losses'] = losses
    if not all(torch.isfinite(torch.tensor(losses))):
        raise FloatingPointError(f'non-finite training loss: {losses}')
    if args.compile:
        _uncompile(model)
    if not args.no_flops:
        model.eval()

        def fwd():
            with torch.no_grad(), autocast_ctx(device, args.amp):
                return model.forward_depths(inputs, flip=False)['depth']

        res['gflop_per_forward'] = count_flops(fwd) / 1e9 / bs
    return res


def report(res: Dict, args: argparse.Namespace) -> None:
    env = res['env']
    switches = ', '.join(f'{k}={v}' for k, v in res['switches'].items())
    print(f'mode {args.mode} | device {args.device} | threads '
          f'{env["threads"]} | torch {env["torch"]} | {switches}')
    if 'params' in res:
        print(f'params {res["params"]:,} (trainable '
              f'{res["trainable_params"]:,})')
    if 'gflop_per_forward' in res:
        print(f'GFLOP per forward (per image): '
              f'{res["gflop_per_forward"]:.2f}')
    print(f'latency median {res["latency_median_s"]:.3f} s, min '
          f'{res["latency_min_s"]:.3f} s, max {res["latency_max_s"]:.3f} s '
          f'over {args.repeats} runs (warm-up {args.warmup}); '
          f'{res["images_per_s"]:.2f} images/s')
    mem = 'allocator peak' if args.device == 'cuda' else (
        'peak RSS of the timed runs' if res['peak_mem_scope'] == 'section'
        else 'peak RSS of the process')
    print(f'{mem}: {_fmt_bytes(res["peak_mem_bytes"])} (process peak RSS '
          f'{_fmt_bytes(res["process_peak_rss_bytes"])})')
    if 'vs_fp32_eager_max_rel_err' in res:
        print(f'metric depth vs eager fp32: max rel '
              f'{res["vs_fp32_eager_max_rel_err"]:.3e}, mean rel '
              f'{res["vs_fp32_eager_mean_rel_err"]:.3e}, max abs '
              f'{res["vs_fp32_eager_max_abs_err_m"]:.3e} m')
    if 'rss_phase_peaks_bytes' in res:
        print('peak RSS by phase (sampled every 2 ms): ' + ', '.join(
            f'{k} {_fmt_bytes(v)}'
            for k, v in res['rss_phase_peaks_bytes'].items()))
    if 'losses' in res:
        print('losses: ' + ', '.join(f'{v:.4f}' for v in res['losses']))
    if 'loadavg_end' in env:
        print(f'load average start {env["loadavg_start"][0]:.2f}, end '
              f'{env["loadavg_end"][0]:.2f}')
    if 'probe_end' in env:
        start, end = env['probe_start'], env['probe_end']
        print(f'machine probe start {start["matmul_gflops"]:.0f} GFLOP/s, '
              f'{start["copy_gbs"]:.1f} GB/s; end '
              f'{end["matmul_gflops"]:.0f} GFLOP/s, {end["copy_gbs"]:.1f} '
              'GB/s')


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = parse_args(argv)
    from mmzoe.utils.cpu_runtime import configure_cpu_runtime
    # Before the first large torch op (FTZ is inherited by the intra-op
    # threads only when they are created after it is set).
    cpu_runtime = configure_cpu_runtime(args.cpu_malloc, args.flush_denormal)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
    import mmzoe  # noqa: F401
    from mmzoe.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = load_config(args)
    env = _environment(args)
    fn = dict(infer=bench_infer, train=bench_train)[args.mode]
    res = fn(cfg, args)
    try:
        env['loadavg_end'] = os.getloadavg()
    except OSError:
        pass
    if 'probe_start' in env:
        env['probe_end'] = machine_probe()
    res['env'] = env
    state = switch_state(cfg)
    state.pop('cpu_runtime', None)
    res['switches'] = dict(
        amp=args.amp or 'fp32',
        **state,
        tf32=args.tf32 if args.device == 'cuda' else None,
        compile=args.compile,
        fused_adamw=args.fused_adamw,
        cpu_malloc=cpu_runtime['malloc'],
        flush_denormal=cpu_runtime['flush_denormal'],
        batch_size=args.batch_size or res.get('batch_size', 1))
    report(res, args)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2, default=str)
    return res


if __name__ == '__main__':
    main()
