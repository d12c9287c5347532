"""Summarise a ``nyu_depth_v2_labeled.mat`` file (real or synthetic).

Prints the number of images, the split sizes (official / random), the 14-class
histogram and the depth range over a sample of images. Fails with a clear
message (exit code 1) on a wrong file.

Example::

    python tools/dataset_converters/nyu_labeled_info.py \
        data/nyu/nyu_depth_v2_labeled.mat --num-samples 20
"""
import argparse
import sys

import numpy as np

from mmzoe.datasets.nyu_labeled import random_split_indices
from mmzoe.datasets.utils import (NYU_NUM_LABELED, NYULabeledMatReader,
                                  map_nyu894_to_13, nyu13_class_names,
                                  read_mat_string_list)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('path', help='nyu_depth_v2_labeled.mat')
    parser.add_argument('--num-samples', type=int, default=10,
                        help='images (evenly spaced) used for the histogram '
                        'and depth range')
    parser.add_argument('--seed', type=int, default=43,
                        help='seed of the random split')
    parser.add_argument('--num-val', type=int, default=None,
                        help='random-split val size (default round(0.2 N); '
                        '291 for the report)')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    try:
        reader = NYULabeledMatReader(args.path, with_labels=False)
    except (OSError, ValueError, KeyError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    f = reader.file
    n = reader.num_images
    print(f'file: {args.path}')
    print(f'images: {n} ({reader.height}x{reader.width}), datasets: '
          f'{sorted(f.keys())}')
    if n == NYU_NUM_LABELED:
        print('official split: 795 train / 654 test')
    else:
        print(f'official split: unavailable ({n} != {NYU_NUM_LABELED} '
              'images)')
    try:
        n_val = len(random_split_indices(n, 'val', args.seed,
                                         num_val=args.num_val))
        print(f'random split (seed {args.seed}): {n - n_val} train / '
              f'{n_val} val')
    except ValueError as e:
        print(f'random split: {e}')
    if 'names' in f:
        names = read_mat_string_list(f, 'names')
        print(f'names: {len(names)} (first: {names[:3]})')
    picks = np.unique(np.linspace(0, n - 1, min(args.num_samples, n))
                      .round().astype(int))
    has_labels = 'labels' in f
    hist = np.zeros(14, np.int64)
    stats = {}
    for key in ('depths', 'rawDepths'):
        if key in f:
            stats[key] = [np.inf, -np.inf, 0, 0]
    try:
        for i in picks:
            for key in stats:
                d = f[key][int(i)]
                pos = d[d > 0]
                s = stats[key]
                if pos.size:
                    s[0] = min(s[0], float(pos.min()))
                    s[1] = max(s[1], float(pos.max()))
                s[2] += int((d <= 0).sum())
                s[3] += d.size
            if has_labels:
                lab = map_nyu894_to_13(reader.read_labels(int(i)),
                                       f'{args.path} labels[{i}]')
                hist += np.bincount(lab.ravel(), minlength=14)
    except (OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'over {len(picks)} sampled images:')
    for key, (lo, hi, zeros, total) in stats.items():
        print(f'  {key}: {lo:.3f} .. {hi:.3f} m, '
              f'{100.0 * zeros / max(total, 1):.1f} % pixels <= 0')
    if has_labels:
        total = max(int(hist.sum()), 1)
        print('  14-class histogram:')
        for k, name in enumerate(nyu13_class_names()):
            print(f'    {k:2d} {name:10s} {100.0 * hist[k] / total:6.2f} %')
    else:
        print('  no "labels" dataset')
    reader.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
