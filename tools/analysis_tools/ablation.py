"""Paired ablation over seeds: train and test two configs, compare metrics.

For every seed, both variants (A and B) are trained with ``tools/train.py``
and tested with ``tools/test.py`` (one subprocess each), with the same data,
the same split and the same seed (``randomness.seed``); only the configs
(and the per-variant ``--cfg-options-a/-b``) differ. The tool then prints and
writes a table (``ablation.md`` + ``ablation.json``): mean ± std of every
test metric per variant, the paired difference B - A with its t-based
confidence interval, a paired t-test and a Wilcoxon signed-rank test
(``scipy.stats``), plus a plot (``ablation.png``: per-seed points joined by
seed, and the mean of each variant).

Runs are resumable: each run lives in ``WORK_DIR/<variant>/seed_<s>/``; a run
with ``metrics.json`` is finished and skipped, an unfinished one is resumed
from its latest checkpoint (``--checkpoint-interval`` sets how often
iteration-based runs save one). The resolved config of each variant is
written once to ``WORK_DIR/<variant>/config.py``; a later call whose config
differs stops instead of mixing runs of two configs.

Examples::

    # the segmentation branch of the CPU demo: lambda_dis 0 vs 0.1
    python tools/analysis_tools/ablation.py \\
        configs/demo/zoedepth_resnet18s_1xb8-1200it_synthetic-nyu-128.py \\
        configs/demo/zoedepth_resnet18s-segdistill_1xb8-1200it_synthetic-nyu-128.py \\
        --names no-branch seg-0.1 --seeds 5 --iters 600 \\
        --work-dir work_dirs/ablation_demo \\
        --cfg-options train_dataloader.dataset.data_root=DATA \\
                      val_dataloader.dataset.data_root=DATA \\
                      test_dataloader.dataset.data_root=DATA
    # one config, two settings of one key
    python tools/analysis_tools/ablation.py CONFIG CONFIG --names l0.05 l0.2 \\
        --cfg-options-a model.auxiliary_head.lambda_dis=0.05 \\
        --cfg-options-b model.auxiliary_head.lambda_dis=0.2 --seeds 5
    # only the table of the runs finished so far
    python tools/analysis_tools/ablation.py CONFIG_A CONFIG_B --seeds 5 \\
        --summarize-only
"""
import argparse
import json
import math
import os
import os.path as osp
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config, DictAction

PROG = 'tools/analysis_tools/ablation.py'
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# scalars in the test log that are timings, not metrics
NOT_METRICS = ('data_time', 'time', 'step', 'iter', 'epoch', 'lr')
# metrics where larger is better (the table says which direction is good)
HIGHER_IS_BETTER = ('a1', 'a2', 'a3', 'mIoU', 'mAcc', 'aAcc')


class AblationError(Exception):
    """Bad input or a failed run: reported as one line, exit status 2."""


# --------------------------------------------------------------- statistics
def paired_stats(a: Sequence[float],
                 b: Sequence[float],
                 confidence: float = 0.95) -> Dict[str, Optional[float]]:
    """Paired comparison of two variants measured on the same seeds.

    ``diff = b - a`` per seed. The interval is the t-based one,
    ``mean(diff) ± t_{(1+confidence)/2, n-1} * sd(diff) / sqrt(n)`` (``sd``
    with ``n - 1``), the p-values are two-sided: the paired t-test
    (:func:`scipy.stats.ttest_rel`) and the Wilcoxon signed-rank test
    (:func:`scipy.stats.wilcoxon`, default method: exact for small ``n``
    without ties or zeros).

    Args:
        a (Sequence[float]): Metric of variant A, one value per seed.
        b (Sequence[float]): Metric of variant B, same seeds in the same
            order.
        confidence (float): Level of the interval. Defaults to 0.95.

    Returns:
        dict: ``n``, ``mean_a``, ``std_a``, ``mean_b``, ``std_b`` (sample
        std, ``ddof=1``), ``diff_mean``, ``diff_std``, ``ci_low``,
        ``ci_high``, ``t_stat``, ``t_p``, ``wilcoxon_stat``,
        ``wilcoxon_p``. The tests are ``None`` where they are undefined:
        the t-test when all differences are equal (zero spread), Wilcoxon
        when all differences are zero.

    Raises:
        ValueError: fewer than two pairs, lengths differ, or a value is not
            finite.
    """
    from scipy import stats
    xa = np.asarray(a, dtype=np.float64)
    xb = np.asarray(b, dtype=np.float64)
    if xa.ndim != 1 or xa.shape != xb.shape:
        raise ValueError(f'paired values need two equal-length 1-D lists, '
                         f'got {xa.shape} and {xb.shape}')
    n = xa.size
    if n < 2:
        raise ValueError(f'a paired comparison needs >= 2 seeds, got {n}')
    if not (np.isfinite(xa).all() and np.isfinite(xb).all()):
        raise ValueError('paired values must be finite')
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must be in (0, 1), got {confidence}')
    d = xb - xa
    d_mean = float(d.mean())
    d_std = float(d.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * d_std / math.sqrt(
        n)
    out: Dict[str, Optional[float]] = dict(
        n=n,
        mean_a=float(xa.mean()),
        std_a=float(xa.std(ddof=1)),
        mean_b=float(xb.mean()),
        std_b=float(xb.std(ddof=1)),
        diff_mean=d_mean,
        diff_std=d_std,
        ci_low=d_mean - half,
        ci_high=d_mean + half,
        t_stat=None,
        t_p=None,
        wilcoxon_stat=None,
        wilcoxon_p=None)
    if d_std > 0:
        res = stats.ttest_rel(xb, xa)
        out['t_stat'], out['t_p'] = float(res.statistic), float(res.pvalue)
    if np.any(d != 0):
        res = stats.wilcoxon(xb, xa)
        out['wilcoxon_stat'] = float(res.statistic)
        out['wilcoxon_p'] = float(res.pvalue)
    return out


# ------------------------------------------------------------------ configs
def stretch_iters(cfg: Config, iters: int) -> None:
    """Set an iteration-based schedule to ``iters`` iterations.

    ``train_cfg.max_iters`` becomes ``iters``; a ``val_interval`` equal to
    the old length and a checkpoint interval equal to it follow; every
    iteration-based ``param_scheduler`` has its ``begin``/``end`` scaled by
    ``iters / old`` (warm-up and decay keep their proportions).

    Args:
        cfg (Config): Config with an ``IterBasedTrainLoop``; changed in
            place.
        iters (int): New number of iterations.
    """
    train_cfg = cfg.get('train_cfg') or {}
    old = train_cfg.get('max_iters')
    if old is None or 'Iter' not in str(train_cfg.get('type', '')):
        raise AblationError('--iters needs train_cfg.type '
                            'IterBasedTrainLoop with max_iters in the config')
    train_cfg['max_iters'] = iters
    if train_cfg.get('val_interval') == old:
        train_cfg['val_interval'] = iters
    ckpt = cfg.get('default_hooks', {}).get('checkpoint')
    if ckpt is not None and ckpt.get('interval') == old:
        ckpt['interval'] = iters
    scheds = cfg.get('param_scheduler') or []
    for sched in scheds if isinstance(scheds, list) else [scheds]:
        if sched.get('by_epoch', True):
            continue
        for key in ('begin', 'end'):
            if key in sched:
                sched[key] = int(round(sched[key] * iters / old))


def build_variant_cfg(config: str, options: Optional[dict],
                      variant_options: Optional[dict], iters: Optional[int],
                      checkpoint_interval: Optional[int]) -> Config:
    """Load one variant's config with all command-line changes applied."""
    if not osp.isfile(config):
        raise AblationError(f'config file not found: {config}')
    try:
        cfg = Config.fromfile(config)
    except Exception as e:  # noqa: BLE001  (any parse error: one line)
        raise AblationError(f'{config}: cannot load the config: '
                            f'{type(e).__name__}: {e}') from e
    for opts in (options, variant_options):
        if opts:
            cfg.merge_from_dict(opts)
    if iters is not None:
        stretch_iters(cfg, iters)
    if checkpoint_interval is not None:
        ckpt = cfg.get('default_hooks', {}).get('checkpoint')
        if ckpt is None:
            raise AblationError(f'{config}: --checkpoint-interval needs '
                                'default_hooks.checkpoint in the config')
        ckpt['interval'] = checkpoint_interval
    return cfg


def write_variant_cfg(cfg: Config, path: str) -> None:
    """Write the resolved config once; refuse one that differs."""
    text = cfg.pretty_text
    if osp.isfile(path):
        with open(path, encoding='utf-8') as f:
            if f.read() != text:
                raise AblationError(
                    f'{path}: the work dir holds runs of another config (or '
                    'other options); use another --work-dir or delete it')
        return
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


# --------------------------------------------------------------------- runs
def _env() -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    return env


def _call(cmd: List[str], log_path: str) -> None:
    print(f'[ablation] $ {" ".join(cmd)}  (log: {log_path})', flush=True)
    with open(log_path, 'a', encoding='utf-8') as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT,
                             env=_env(), cwd=os.getcwd())
    if rc != 0:
        tail = ''
        with open(log_path, encoding='utf-8', errors='replace') as f:
            lines = [ln.strip() for ln in f.readlines() if ln.strip()]
        if lines:
            tail = f': {lines[-1]}'
        raise AblationError(f'{cmd[1]} exited with {rc} (see {log_path})'
                            f'{tail}')


def read_test_metrics(test_dir: str) -> Dict[str, float]:
    """Metrics of a ``tools/test.py`` run from its JSON scalar log.

    MMEngine's ``LoggerHook`` writes ``<work_dir>/<timestamp>/<timestamp>
    .json`` after testing; the newest one holding metrics is read.
    """
    found = []
    if osp.isdir(test_dir):
        for ts in os.listdir(test_dir):
            path = osp.join(test_dir, ts, f'{ts}.json')
            if osp.isfile(path):
                found.append(path)
    for path in sorted(found, reverse=True):
        with open(path, encoding='utf-8') as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
        if not lines:
            continue
        row = json.loads(lines[-1])
        metrics = {
            k.split('/')[-1]: float(v)
            for k, v in row.items() if isinstance(v, (int, float))
            and k.split('/')[-1] not in NOT_METRICS
        }
        if metrics:
            bad = [k for k, v in metrics.items() if not math.isfinite(v)]
            if bad:
                raise AblationError(f'{path}: non-finite test metrics {bad}')
            return metrics
    raise AblationError(f'{test_dir}: no test metrics found (no '
                        '<timestamp>/<timestamp>.json from tools/test.py)')


def run_one(cfg_path: str, run_dir: str, seed: int) -> Dict[str, float]:
    """Train (or resume) and test one variant with one seed."""
    metrics_path = osp.join(run_dir, 'metrics.json')
    if osp.isfile(metrics_path):
        with open(metrics_path, encoding='utf-8') as f:
            done = json.load(f)
        print(f'[ablation] {run_dir}: finished, skipped', flush=True)
        return done['metrics']
    os.makedirs(run_dir, exist_ok=True)
    seed_opt = f'randomness.seed={seed}'
    done_mark = osp.join(run_dir, 'train_done')
    if not osp.isfile(done_mark):
        _call([
            sys.executable,
            osp.join(REPO, 'tools', 'train.py'), cfg_path, '--work-dir',
            run_dir, '--resume', '--cfg-options', seed_opt
        ], osp.join(run_dir, 'train.log'))
        open(done_mark, 'w').close()
    last = osp.join(run_dir, 'last_checkpoint')
    if not osp.isfile(last):
        raise AblationError(f'{run_dir}: training saved no checkpoint '
                            '(no last_checkpoint file)')
    with open(last, encoding='utf-8') as f:
        ckpt = f.read().strip()
    test_dir = osp.join(run_dir, 'test')
    shutil.rmtree(test_dir, ignore_errors=True)  # a half-finished test
    _call([
        sys.executable,
        osp.join(REPO, 'tools', 'test.py'), cfg_path, ckpt, '--work-dir',
        test_dir, '--cfg-options', seed_opt
    ], osp.join(run_dir, 'test.log'))
    metrics = read_test_metrics(test_dir)
    with open(metrics_path, 'w', encoding='utf-8') as f:
        json.dump(dict(seed=seed, checkpoint=ckpt, metrics=metrics), f,
                  indent=2)
    return metrics


def collect(work_dir: str, names: Sequence[str],
            seeds: Sequence[int]) -> Dict[str, Dict[int, Dict[str, float]]]:
    """Metrics of the finished runs: ``{variant: {seed: metrics}}``."""
    out: Dict[str, Dict[int, Dict[str, float]]] = {}
    for name in names:
        out[name] = {}
        for seed in seeds:
            path = osp.join(work_dir, name, f'seed_{seed}', 'metrics.json')
            if osp.isfile(path):
                with open(path, encoding='utf-8') as f:
                    out[name][seed] = json.load(f)['metrics']
    return out


# ------------------------------------------------------------------ reports
def summarize(results: Dict[str, Dict[int, Dict[str, float]]],
              names: Sequence[str],
              confidence: float = 0.95) -> Dict:
    """Paired statistics of every metric over the seeds both variants have.

    Args:
        results (dict): ``{variant: {seed: {metric: value}}}``.
        names (Sequence[str]): The two variant names, A then B.
        confidence (float): Level of the difference interval.

    Returns:
        dict: ``seeds`` (the paired seeds), ``values`` (per metric: A's and
        B's per-seed lists) and ``stats`` (per metric: :func:`paired_stats`).
    """
    name_a, name_b = names
    seeds = sorted(set(results[name_a]) & set(results[name_b]))
    if len(seeds) < 2:
        raise AblationError(f'{len(seeds)} finished seed pair(s); the '
                            'statistics need at least 2')
    keys = [
        k for k in results[name_a][seeds[0]]
        if all(k in results[n][s] for n in names for s in seeds)
    ]
    values, table = {}, {}
    for k in keys:
        va = [results[name_a][s][k] for s in seeds]
        vb = [results[name_b][s][k] for s in seeds]
        values[k] = {name_a: va, name_b: vb}
        table[k] = paired_stats(va, vb, confidence)
    return dict(names=list(names), seeds=seeds, confidence=confidence,
                values=values, stats=table)


def _p(v: Optional[float]) -> str:
    return '-' if v is None else f'{v:.3g}'


def format_markdown(summary: Dict, digits: int = 4) -> str:
    """The summary as a markdown table (one row per metric)."""
    name_a, name_b = summary['names']
    conf = int(round(summary['confidence'] * 100))
    f = f'.{digits}f'
    lines = [
        f'Paired over seeds {summary["seeds"]} (n = {len(summary["seeds"])})'
        f'; difference = {name_b} - {name_a}; {conf} % interval: t-based; '
        'p: two-sided paired t-test / Wilcoxon signed-rank.', '',
        f'| metric | {name_a} (mean ± std) | {name_b} (mean ± std) | '
        f'difference | {conf} % interval | p (t-test) | p (Wilcoxon) |',
        '|---|---|---|---|---|---|---|'
    ]
    for k, s in summary['stats'].items():
        better = 'higher' if k in HIGHER_IS_BETTER else 'lower'
        lines.append(
            f'| {k} ({better} is better) | {s["mean_a"]:{f}} ± '
            f'{s["std_a"]:{f}} | {s["mean_b"]:{f}} ± {s["std_b"]:{f}} | '
            f'{s["diff_mean"]:+{f}} | [{s["ci_low"]:+{f}}, '
            f'{s["ci_high"]:+{f}}] | {_p(s["t_p"])} | '
            f'{_p(s["wilcoxon_p"])} |')
    return '\n'.join(lines) + '\n'


def plot(summary: Dict, metrics: Sequence[str], path: str) -> None:
    """Per-seed points (joined by seed) and the mean of each variant."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    metrics = [m for m in metrics if m in summary['values']]
    if not metrics:
        raise AblationError(f'--plot-metrics: none of them in the results '
                            f'({sorted(summary["values"])})')
    names = summary['names']
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(2.6 * len(metrics), 2.8), squeeze=False)
    for ax, k in zip(axes[0], metrics):
        va = summary['values'][k][names[0]]
        vb = summary['values'][k][names[1]]
        for seed, ya, yb in zip(summary['seeds'], va, vb):
            ax.plot([0, 1], [ya, yb], '-o', color='0.6', ms=4, lw=0.8,
                    zorder=1)
        for x, v in ((0, va), (1, vb)):
            ax.hlines(np.mean(v), x - 0.18, x + 0.18, colors='C3', lw=2.5,
                      zorder=2)
        s = summary['stats'][k]
        better = 'higher' if k in HIGHER_IS_BETTER else 'lower'
        ax.set_title(f'{k} ({better} better)\nΔ {s["diff_mean"]:+.3f}, '
                     f'p_t={_p(s["t_p"])}', fontsize=8)
        ax.set_xticks([0, 1])
        ax.set_xticklabels(names, fontsize=8)
        ax.set_xlim(-0.5, 1.5)
        ax.tick_params(axis='y', labelsize=7)
    fig.suptitle(f'per-seed values (grey, n={len(summary["seeds"])}) and '
                 'means (red)', fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_reports(summary: Dict, work_dir: str,
                  plot_metrics: Sequence[str]) -> str:
    """Write ablation.md/.json/.png into ``work_dir``; return the table."""
    table = format_markdown(summary)
    with open(osp.join(work_dir, 'ablation.md'), 'w',
              encoding='utf-8') as f:
        f.write(table)
    with open(osp.join(work_dir, 'ablation.json'), 'w',
              encoding='utf-8') as f:
        json.dump(summary, f, indent=2)
    plot(summary, plot_metrics, osp.join(work_dir, 'ablation.png'))
    return table


# --------------------------------------------------------------------- main
def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=PROG,
        description='Paired ablation: train and test two configs over '
        'seeds, compare the test metrics')
    p.add_argument('config_a', help='config of variant A (the baseline)')
    p.add_argument('config_b', help='config of variant B (the change)')
    p.add_argument('--seeds', type=int, default=5,
                   help='number of seeds; seeds first-seed ... first-seed + '
                   'N - 1 (the table needs >= 2 finished pairs; one call '
                   'per seed range can split the runs between machines)')
    p.add_argument('--first-seed', type=int, default=0)
    p.add_argument('--names', nargs=2, metavar=('A', 'B'),
                   help='variant names (folders, table columns); default '
                   'the config names')
    p.add_argument('--work-dir', default=osp.join('work_dirs', 'ablation'))
    p.add_argument('--iters', type=int, default=None,
                   help='train iteration-based configs for N iterations '
                   '(warm-up/decay scaled)')
    p.add_argument('--checkpoint-interval', type=int, default=None,
                   help='checkpoint every N iterations/epochs, so an '
                   'interrupted run resumes near where it stopped')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='overrides for both variants (key=value)')
    p.add_argument('--cfg-options-a', nargs='+', action=DictAction,
                   help='overrides for variant A only')
    p.add_argument('--cfg-options-b', nargs='+', action=DictAction,
                   help='overrides for variant B only')
    p.add_argument('--jobs', type=int, default=1,
                   help='runs at the same time (subprocesses; set '
                   'OMP_NUM_THREADS to share the cores between them)')
    p.add_argument('--confidence', type=float, default=0.95)
    p.add_argument('--plot-metrics', nargs='+',
                   default=['a1', 'abs_rel', 'rmse'],
                   help='metrics in the plot')
    p.add_argument('--summarize-only', action='store_true',
                   help='no training: table of the finished runs')
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error(f'--seeds must be >= 1, got {args.seeds}')
    if args.iters is not None and args.iters < 1:
        p.error(f'--iters must be >= 1, got {args.iters}')
    if args.checkpoint_interval is not None and args.checkpoint_interval < 1:
        p.error('--checkpoint-interval must be >= 1')
    if args.jobs < 1:
        p.error(f'--jobs must be >= 1, got {args.jobs}')
    if not 0 < args.confidence < 1:
        p.error(f'--confidence must be in (0, 1), got {args.confidence}')
    return args


def variant_names(args: argparse.Namespace) -> List[str]:
    if args.names:
        names = list(args.names)
    else:
        names = [
            osp.splitext(osp.basename(c))[0]
            for c in (args.config_a, args.config_b)
        ]
        if names[0] == names[1]:
            names = [names[0] + '_a', names[1] + '_b']
    if names[0] == names[1]:
        raise AblationError(f'--names: the two variants need different '
                            f'names, got {names}')
    for n in names:
        if not n or os.sep in n or n in ('.', '..'):
            raise AblationError(f'--names: not a folder name: {n!r}')
    return names


def run(args: argparse.Namespace) -> Dict:
    names = variant_names(args)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    if not args.summarize_only:
        cfg_paths = []
        for name, config, opts in ((names[0], args.config_a,
                                    args.cfg_options_a),
                                   (names[1], args.config_b,
                                    args.cfg_options_b)):
            cfg = build_variant_cfg(config, args.cfg_options, opts,
                                    args.iters, args.checkpoint_interval)
            path = osp.join(work_dir, name, 'config.py')
            write_variant_cfg(cfg, path)
            cfg_paths.append(path)
        # seed-major order: finished pairs accumulate as early as possible;
        # with --jobs 2 the two variants of a seed train side by side
        jobs = [(path, osp.join(work_dir, name, f'seed_{seed}'), seed)
                for seed in seeds for name, path in zip(names, cfg_paths)]
        if args.jobs == 1:
            for job in jobs:
                run_one(*job)
        else:
            from concurrent.futures import ThreadPoolExecutor
            pool = ThreadPoolExecutor(args.jobs)
            try:
                for future in [pool.submit(run_one, *job) for job in jobs]:
                    future.result()
            finally:  # a failed run: start no further ones
                pool.shutdown(wait=True, cancel_futures=True)
    summary = summarize(collect(work_dir, names, seeds), names,
                        args.confidence)
    table = write_reports(summary, work_dir, args.plot_metrics)
    print('\n' + table)
    print(f'[ablation] wrote {osp.join(work_dir, "ablation.md")}, '
          'ablation.json, ablation.png', flush=True)
    return summary


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except (AblationError, ValueError) as e:
        print(f'{PROG}: error: {e}', file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
