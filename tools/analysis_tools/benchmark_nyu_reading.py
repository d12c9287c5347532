"""Reading throughput of NYUv2LabeledDataset (not a test).

Example::

    python tools/analysis_tools/benchmark_nyu_reading.py \
        data/nyu/nyu_depth_v2_labeled.mat --num-workers 2 --num-samples 100
"""
import argparse
import time

import torch

import mmzoe  # noqa: F401
from mmzoe.datasets import NYUv2LabeledDataset


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('path', help='nyu_depth_v2_labeled.mat')
    parser.add_argument('--num-samples', type=int, default=50)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--depth-key', default='depths',
                        choices=['depths', 'rawDepths'])
    parser.add_argument('--no-labels', action='store_true')
    parser.add_argument('--train-pipeline', action='store_true',
                        help='add rotation, flip and colour augmentation')
    return parser.parse_args()


def main():
    args = parse_args()
    pipeline = []
    if args.train_pipeline:
        pipeline = [dict(type='ZoeRandomRotate', degree=1.0),
                    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                    dict(type='ZoeColorAug', prob=0.5)]
    pipeline.append(dict(type='PackSegInputs'))
    ds = NYUv2LabeledDataset(
        ann_file=args.path, split='all', depth_key=args.depth_key,
        with_labels=not args.no_labels, pipeline=pipeline, test_mode=True)
    n = min(args.num_samples, len(ds))
    subset = torch.utils.data.Subset(ds, list(range(n)))
    loader = torch.utils.data.DataLoader(
        subset, batch_size=1, num_workers=args.num_workers,
        collate_fn=lambda batch: batch)
    start = time.perf_counter()
    first = None
    for i, _ in enumerate(loader):
        if i == 0:
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    print(f'{n} samples in {total:.2f} s: {n / total:.1f} samples/s '
          f'({args.num_workers} workers, first sample {first:.2f} s, '
          f'depth {args.depth_key}, labels {not args.no_labels}, '
          f'train pipeline {args.train_pipeline})')


if __name__ == '__main__':
    main()
