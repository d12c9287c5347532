"""Data-pipeline benchmark: samples/s of a config's NYU dataloader.

Reads the configured loader (workers, transforms) from a NYU labeled ``.mat``
(the configured one, ``--data-file``, or a random ``--synthetic N``-image file
written to a temporary folder) and prints samples/s, the first batch's time
and the peak RSS of this process.

Example::

    python tools/analysis_tools/benchmark_data.py CONFIG_WITH_DATA \\
        --synthetic 64 --repeats 40
"""
import argparse
import json
import os
import os.path as osp
import tempfile
import time
from typing import Dict, Optional, Sequence

from bench_utils import _environment, _fmt_bytes, timed_stats


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Samples/s of the configured NYU dataloader.')
    parser.add_argument('config', help='config with data settings')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='default: the configured batch size')
    parser.add_argument('--num-workers', type=int, default=None,
                        help='override the configured workers')
    parser.add_argument('--data-file', default=None,
                        help='NYU labeled .mat to read (overrides the '
                        'configured data_root/ann_file)')
    parser.add_argument('--synthetic', type=int, default=0, metavar='N',
                        help='write a random N-image NYU-layout .mat '
                        '(480x640) to a temporary folder and read it')
    parser.add_argument('--split', choices=['train', 'val'], default='train',
                        help='which dataloader config to use')
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument(
        '--cfg-options', nargs='+', default=None,
        help='override config keys (key=value, mmengine DictAction)')
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error('--repeats must be >= 1 and --warmup >= 0')
    if args.batch_size is not None and args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    args.device, args.mode = 'cpu', 'data'
    return args


def write_random_nyu_mat(path: str, num: int, seed: int = 0) -> None:
    """A random NYU-layout labeled .mat with ``num`` 480x640 images."""
    import numpy as np

    from mmzoe.datasets.utils.nyu_mat import write_nyu_labeled_mat
    rng = np.random.default_rng(seed)

    class _Lazy:

        def __init__(self, fn):
            self.fn = fn

        def __len__(self):
            return num

        def __getitem__(self, i):
            return self.fn(i)

    write_nyu_labeled_mat(
        path,
        images=_Lazy(lambda i: rng.integers(
            0, 256, (480, 640, 3), dtype=np.uint8)),
        depths=_Lazy(lambda i: rng.uniform(0.5, 9.5, (480, 640)).astype(
            np.float32)),
        labels=_Lazy(lambda i: rng.integers(
            0, 895, (480, 640), dtype=np.uint16)))


def bench_data(cfg, args: argparse.Namespace) -> Dict:
    """Samples/s of the configured NYU dataloader."""
    from mmengine.runner import Runner
    key = f'{args.split}_dataloader'
    if key not in cfg:
        raise KeyError(f'{args.config} has no {key} (use a config with data '
                       'settings for --mode data)')
    loader_cfg = cfg[key].copy()
    loader_cfg.dataset = loader_cfg.dataset.copy()
    tmp = None
    data_file = args.data_file
    if args.synthetic:
        tmp = tempfile.TemporaryDirectory(prefix='mmzoe_bench_')
        data_file = osp.join(tmp.name, 'synthetic_nyu.mat')
        t0 = time.perf_counter()
        write_random_nyu_mat(data_file, args.synthetic, args.seed)
        print(f'wrote {data_file} ({args.synthetic} images) in '
              f'{time.perf_counter() - t0:.1f} s')
        split = loader_cfg.dataset.get('split', 'random')
        if split in ('official', 'file'):
            loader_cfg.dataset.split = 'all'
        if loader_cfg.dataset.get('num_val') is not None and \
                loader_cfg.dataset.num_val >= args.synthetic:
            loader_cfg.dataset.num_val = None
    if data_file is not None:
        if not osp.isfile(data_file):
            raise FileNotFoundError(f'--data-file not found: {data_file}')
        loader_cfg.dataset.data_root = osp.dirname(osp.abspath(data_file))
        loader_cfg.dataset.ann_file = osp.basename(data_file)
    if args.batch_size is not None:
        loader_cfg.batch_size = args.batch_size
    if args.num_workers is not None:
        loader_cfg.num_workers = args.num_workers
        if args.num_workers == 0:
            loader_cfg.persistent_workers = False
    # An infinite sampler keeps the loader going for any --repeats.
    loader_cfg.sampler = dict(type='InfiniteSampler', shuffle=True)
    loader = Runner.build_dataloader(loader_cfg, seed=args.seed)
    bs = loader_cfg.batch_size
    it = iter(loader)
    t0 = time.perf_counter()
    next(it)
    first = time.perf_counter() - t0
    res = timed_stats(lambda: next(it), args, 'cpu', bs)
    times = res['times_s']
    res.update(
        samples_per_s=bs * len(times) / sum(times),
        batch_size=bs,
        num_workers=loader_cfg.num_workers,
        first_batch_s=first,
        dataset_len=len(loader.dataset))
    del it, loader
    if tmp is not None:
        tmp.cleanup()
    return res


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = parse_args(argv)
    from mmengine.config import Config, DictAction

    from mmzoe.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        ns = argparse.Namespace()
        DictAction(option_strings=[], dest='o')(None, ns, args.cfg_options)
        cfg.merge_from_dict(ns.o)
    env = _environment(args)
    res = bench_data(cfg, args)
    res['env'] = env
    print(f'data: {res["samples_per_s"]:.2f} samples/s (batch '
          f'{res["batch_size"]}, {res["num_workers"]} workers, first batch '
          f'{res["first_batch_s"]:.2f} s); process peak RSS '
          f'{_fmt_bytes(res["process_peak_rss_bytes"])}')
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2, default=str)
    return res


if __name__ == '__main__':
    main()
