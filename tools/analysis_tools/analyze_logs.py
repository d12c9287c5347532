"""Plot loss and metric curves from MMEngine's json logs to a PNG.

Reads the json-lines scalar logs MMEngine writes into each run's
``vis_data/`` folder (``vis_data/scalars.json`` or
``vis_data/<timestamp>.json``; a run folder or a work dir is searched for
them). Training records are the lines with a ``loss`` or ``lr``; the others
(with metrics such as ``a1``, ``abs_rel``) are validation/test records. Each
key gets its own panel: training keys against the iteration, metric keys
against the logged validation step (the iteration, or the epoch with
``log_metric_by_epoch``). Several logs are drawn in the same panels, one
colour each (``--legend`` names them).

Examples::

    python tools/analysis_tools/analyze_logs.py work_dirs/demo/train \\
        --out work_dirs/demo/curves.png
    python tools/analysis_tools/analyze_logs.py RUN_A RUN_B \\
        --keys loss decode.loss_silog abs_rel --legend a b --out cmp.png
"""
import argparse
import glob
import json
import math
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

PROG = 'tools/analysis_tools/analyze_logs.py'
DEFAULT_KEYS = ('loss', 'a1', 'abs_rel')
_NOT_SCALARS = ('iter', 'step', 'epoch', 'time', 'data_time', 'memory')


class LogError(ValueError):
    """A log file that cannot be read (the message names it)."""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot curves from MMEngine json logs')
    parser.add_argument('logs', nargs='+',
                        help='json log files, run folders or work dirs')
    parser.add_argument('--keys', nargs='+', default=None,
                        help='keys to plot (default: loss, a1, abs_rel when '
                        'logged)')
    parser.add_argument('--legend', nargs='+', default=None,
                        help='one name per log (default: the folder names)')
    parser.add_argument('--title', default=None, help='figure title')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--dpi', type=int, default=100)
    args = parser.parse_args(argv)
    if args.legend is not None and len(args.legend) != len(args.logs):
        parser.error(f'--legend needs {len(args.logs)} names, got '
                     f'{len(args.legend)}')
    return args


def find_log(path: str) -> str:
    """The json scalar log of ``path`` (a file, a run folder or a work dir;
    the newest run when there are several)."""
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise LogError(f'{path}: no such log file or folder')
    found = []
    for pattern in ('scalars.json', 'vis_data/scalars.json',
                    '*/vis_data/scalars.json', 'vis_data/*.json',
                    '*/vis_data/*.json'):
        found = sorted(glob.glob(osp.join(path, pattern)))
        found = [f for f in found if osp.basename(f) != 'config.json']
        if found:
            break
    if not found:
        raise LogError(f'{path}: no MMEngine json log (vis_data/'
                       'scalars.json) found')
    return found[-1]


def load_log(path: str) -> Tuple[List[dict], List[dict]]:
    """``(train_records, eval_records)`` of one json-lines log."""
    train, evals = [], []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise LogError(f'{path}: line {lineno} is not json: {e.msg}')
            if not isinstance(rec, dict):
                raise LogError(f'{path}: line {lineno} is not a json object')
            if 'loss' in rec or 'lr' in rec:
                train.append(rec)
            else:
                evals.append(rec)
    if not train and not evals:
        raise LogError(f'{path}: the log is empty')
    return train, evals


def series(records: List[dict], key: str,
           x_key: str) -> Tuple[List[float], List[float]]:
    xs, ys = [], []
    for i, rec in enumerate(records):
        value = rec.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            xs.append(rec.get(x_key, rec.get('step', i + 1)))
            ys.append(float(value))
    return xs, ys


def plot(logs: Dict[str, Tuple[List[dict], List[dict]]], keys: Sequence[str],
         out: str, title: Optional[str] = None, dpi: int = 100) -> None:
    """Draw one panel per key and save the figure to ``out``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = min(len(keys), 3)
    rows = int(math.ceil(len(keys) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows),
                             squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for name, (train, evals) in logs.items():
            xs, ys = series(train, key, 'iter')
            label_x = 'iteration'
            style = dict(linewidth=1.2)
            if not xs:
                xs, ys = series(evals, key, 'step')
                label_x = 'validation step'
                style = dict(marker='o', markersize=3, linewidth=1.2)
            if xs:
                ax.plot(xs, ys, label=name, **style)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel(label_x, fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
        if len(logs) > 1:
            ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis('off')
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)


def analyze(args: argparse.Namespace) -> List[str]:
    """Read the logs and write the PNG; returns the plotted keys."""
    names = args.legend or []
    logs: Dict[str, Tuple[List[dict], List[dict]]] = {}
    for i, path in enumerate(args.logs):
        log = find_log(path)
        name = names[i] if names else osp.basename(
            osp.normpath(path)) or path
        if name in logs:
            name = f'{name} ({i + 1})'
        logs[name] = load_log(log)
    logged = set()
    for train, evals in logs.values():
        for rec in train + evals:
            logged.update(k for k, v in rec.items()
                          if isinstance(v, (int, float)))
    if args.keys:
        missing = [k for k in args.keys if k not in logged]
        if missing:
            raise LogError(
                f'{", ".join(args.logs)}: keys {missing} are not logged; '
                f'logged: {sorted(logged - set(_NOT_SCALARS))}')
        keys = list(args.keys)
    else:
        keys = [k for k in DEFAULT_KEYS if k in logged]
        if not keys:
            raise LogError(f'{", ".join(args.logs)}: none of {DEFAULT_KEYS} '
                           'is logged; choose --keys')
    plot(logs, keys, args.out, args.title, args.dpi)
    print(f'{len(keys)} curves ({", ".join(keys)}) of {len(logs)} log(s) '
          f'written to {args.out}')
    return keys


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    try:
        analyze(args)
    except (LogError, OSError) as e:
        print(f'{PROG}: error: {e}', file=sys.stderr)
        sys.exit(2)


if __name__ == '__main__':
    main()
