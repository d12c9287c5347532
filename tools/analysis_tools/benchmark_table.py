"""Run a matrix of ``benchmark.py`` variants and print one markdown table.

Example (the GPU table of ``docs/benchmarks.md``)::

    python tools/analysis_tools/benchmark_table.py \
        configs/_base_/models/zoedepth_swin2b.py --device cuda \
        --modes infer train --batch-sizes 1 16 --amps fp32 bf16 \
        --variants eager default --json work_dirs/bench_gpu.json

Every combination of ``--modes`` x ``--variants`` x ``--batch-sizes`` x
``--amps`` is one ``benchmark.py`` run. A failing run is recorded with its
error and the table goes on. On CPU every run is a fresh process (so that
one run's retained memory does not raise the next run's peak RSS); on CUDA
runs share the process (the allocator peak is reset per run) unless
``--isolate`` is given. Results are appended to ``--json`` after each run.
"""
import argparse
import gc
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import traceback
from typing import Dict, List, Optional, Sequence

HERE = osp.dirname(osp.abspath(__file__))

# name -> benchmark.py flags
VARIANTS: Dict[str, List[str]] = {
    # every switch off: timm attention, NCHW, upstream's log-binomial order
    'eager': ['--eager'],
    # the config's defaults (zoedepth_swin2b.py: 'sdpa', channels-last)
    'default': [],
    'fused': ['--attn-impl', 'sdpa', '--nchw'],
    'fused-cl': ['--attn-impl', 'sdpa', '--channels-last'],
    'default-cp': ['--with-cp'],
    'default-compile': ['--compile'],
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Run benchmark.py over a matrix of switches')
    parser.add_argument('config', help='model config')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--modes', nargs='+', default=['infer'],
                        choices=['infer', 'train'])
    parser.add_argument('--variants', nargs='+', default=['eager', 'default'],
                        choices=sorted(VARIANTS))
    parser.add_argument('--batch-sizes', nargs='+', type=int, default=[1])
    parser.add_argument('--amps', nargs='+', default=['fp32'],
                        choices=['fp32', 'bf16', 'fp16'])
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--no-flops', action='store_true',
                        help='skip FLOP counting (counted once per mode '
                        'otherwise)')
    parser.add_argument('--isolate', action='store_true',
                        help='one process per run also on CUDA')
    parser.add_argument('--json', default=None,
                        help='append every result to this JSON list')
    parser.add_argument('--extra', nargs=argparse.REMAINDER, default=[],
                        help='further benchmark.py flags for every run')
    return parser.parse_args(argv)


def bench_argv(args: argparse.Namespace, mode: str, variant: str, bs: int,
               amp: str, count_flops: bool) -> List[str]:
    """The ``benchmark.py`` argument list of one run."""
    argv = [args.config, '--mode', mode, '--device', args.device,
            '--batch-size', str(bs), '--warmup', str(args.warmup),
            '--repeats', str(args.repeats)] + VARIANTS[variant]
    if amp != 'fp32':
        argv += ['--amp', amp]
    if mode == 'train':
        argv += ['--fused-adamw']
    if mode == 'infer' and variant == 'eager' and amp == 'fp32':
        argv += ['--no-compare']  # it is the reference itself
    if not count_flops:
        argv += ['--no-flops']
    if args.threads is not None:
        argv += ['--threads', str(args.threads)]
    return argv + list(args.extra)


def run_isolated(argv: List[str]) -> Dict:
    """One ``benchmark.py`` run in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, 'res.json')
        proc = subprocess.run(
            [sys.executable, osp.join(HERE, 'benchmark.py')] + argv +
            ['--json', out],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip().splitlines()[-1]
                               if proc.stderr.strip() else
                               f'exit {proc.returncode}')
        with open(out) as f:
            return json.load(f)


def run_in_process(argv: List[str]) -> Dict:
    """One ``benchmark.py`` run in this process (CUDA memory is freed
    afterwards)."""
    sys.path.insert(0, HERE)
    try:
        import benchmark
    finally:
        sys.path.remove(HERE)
    try:
        return benchmark.main(argv)
    finally:
        gc.collect()
        import torch
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _fmt(res: Dict, key: str, fmt: str) -> str:
    return format(res[key], fmt) if key in res else '—'


def table(rows: List[Dict]) -> str:
    """Markdown table of the collected results."""
    lines = [
        '| mode | variant | batch | precision | median s | min / max s | '
        'images/s | GFLOP/img | peak mem GiB | metric depth vs eager fp32 '
        '(max / mean rel.) | losses |',
        '|---|---|---|---|---|---|---|---|---|---|---|'
    ]
    for row in rows:
        res = row.get('result')
        head = (f'| {row["mode"]} | {row["variant"]} | {row["batch_size"]} '
                f'| {row["amp"]} |')
        if res is None:
            lines.append(head + f' failed: {row["error"]} |||||||')
            continue
        err = '—'
        if 'vs_fp32_eager_max_rel_err' in res:
            err = (f'{res["vs_fp32_eager_max_rel_err"]:.1e} / '
                   f'{res["vs_fp32_eager_mean_rel_err"]:.1e}')
        elif row['mode'] == 'infer' and row['variant'] == 'eager' \
                and row['amp'] == 'fp32':
            err = 'reference'
        losses = ', '.join(f'{v:.4f}' for v in res.get('losses', [])[-2:])
        lines.append(
            head + f' {res["latency_median_s"]:.4f} | '
            f'{res["latency_min_s"]:.4f} / {res["latency_max_s"]:.4f} | '
            f'{res["images_per_s"]:.1f} | '
            f'{_fmt(res, "gflop_per_forward", ".1f")} | '
            f'{res["peak_mem_bytes"] / 2**30:.2f} | {err} | '
            f'{losses or "—"} |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> List[Dict]:
    args = parse_args(argv)
    isolate = args.isolate or args.device == 'cpu'
    rows: List[Dict] = []
    for mode in args.modes:
        counted = args.no_flops
        for variant in args.variants:
            for bs in args.batch_sizes:
                for amp in args.amps:
                    bargv = bench_argv(args, mode, variant, bs, amp,
                                       not counted)
                    row = dict(mode=mode, variant=variant, batch_size=bs,
                               amp=amp, argv=bargv)
                    print('== benchmark.py ' + ' '.join(bargv), flush=True)
                    try:
                        row['result'] = (run_isolated(bargv) if isolate
                                         else run_in_process(bargv))
                        counted = True
                    except Exception as exc:  # keep going, record it
                        traceback.print_exc()
                        row['error'] = f'{type(exc).__name__}: {exc}'[:300]
                    rows.append(row)
                    if args.json:
                        os.makedirs(osp.dirname(osp.abspath(args.json)),
                                    exist_ok=True)
                        with open(args.json, 'w') as f:
                            json.dump(rows, f, indent=1, default=str)
    print(table(rows), flush=True)
    return rows


if __name__ == '__main__':
    main()
