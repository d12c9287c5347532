"""Write BTS's ``official_splits`` folders from ``nyu_depth_v2_labeled.mat``.

For users of other toolboxes (BTS, AdaBins, NeWCRFs, ZoeDepth's own loaders),
and for mmzoe's ``configs/_base_/datasets/nyu_eigen.py``. Each frame ``i``
(0-based index in the file) of the official split goes to::

    OUT/official_splits/{train,test}/<sceneType>/rgb_XXXXX.jpg
    OUT/official_splits/{train,test}/<sceneType>/sync_depth_XXXXX.png

(``XXXXX`` = ``i`` with 5 digits, ``sceneType`` from the file's
``sceneTypes``, e.g. ``bathroom``), exactly as BTS's extraction script writes
them: black border, OpenCV JPEG at its default quality, ``rawDepths`` in
uint16 millimetres (:mod:`mmzoe.datasets.utils.nyu_bts_export`, the code
``NYUv2LabeledDataset(bts_export=True)`` uses). File lists in BTS's format
(``scene/rgb_XXXXX.jpg scene/sync_depth_XXXXX.png 518.8579``, index order) go
to ``OUT/nyudepthv2_test_files_with_gt.txt`` (the name ``nyu_eigen.py``
reads) and ``OUT/nyudepthv2_official_train_files_with_gt.txt``.

A file without the full 1449 frames (e.g. synthetic) needs ``--split all``:
every frame goes to ``test``.

Example::

    python tools/dataset_converters/nyu_labeled_to_bts.py \
        data/nyu/nyu_depth_v2_labeled.mat data/nyu_bts
"""
import argparse
import os
import os.path as osp
import sys

LIST_NAMES = dict(test='nyudepthv2_test_files_with_gt.txt',
                  train='nyudepthv2_official_train_files_with_gt.txt')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('mat', help='nyu_depth_v2_labeled.mat')
    parser.add_argument('out', help='output root (official_splits/ and the '
                        'file lists are written there)')
    parser.add_argument(
        '--split', choices=['official', 'all'], default='official',
        help="'official': 795 train + 654 test (needs all 1449 frames); "
        "'all': every frame to test (smaller files)")
    parser.add_argument(
        '--subsets', nargs='+', choices=['train', 'test'],
        default=['train', 'test'], help='subsets to write (default both)')
    return parser.parse_args(argv)


def convert(mat: str, out: str, split: str = 'official',
            subsets=('train', 'test')) -> dict:
    """Write the frames and lists; return ``{subset: number of frames}``."""
    from mmzoe.datasets.utils import (BTS_NYU_FOCAL, NYU_NUM_LABELED,
                                      NYULabeledMatReader, bts_encode_frame,
                                      nyu_official_split,
                                      read_mat_string_list)
    reader = NYULabeledMatReader(mat, depth_key='rawDepths',
                                 with_labels=False)
    n = reader.num_images
    if split == 'official':
        if n != NYU_NUM_LABELED:
            raise ValueError(
                f'{mat}: --split official needs the full labeled set '
                f'({NYU_NUM_LABELED} frames), the file has {n}; use '
                '--split all')
        chosen = {s: nyu_official_split(s) for s in subsets}
    else:
        chosen = {'test': list(range(n))} if 'test' in subsets else {}
    try:
        scenes = read_mat_string_list(reader.file, 'sceneTypes')
    except KeyError as e:
        raise KeyError(f'{mat}: no "sceneTypes" (the folder names of the '
                       'export)') from e
    if len(scenes) != n:
        raise ValueError(f'{mat}: "sceneTypes" has {len(scenes)} entries '
                         f'for {n} frames')
    counts = {}
    for subset, indices in chosen.items():
        lines = []
        for i in indices:
            scene = scenes[i]
            if not scene or '/' in scene or scene.startswith('.'):
                raise ValueError(f'{mat}: sceneTypes[{i}] = {scene!r} is '
                                 'not a folder name')
            folder = osp.join(out, 'official_splits', subset, scene)
            os.makedirs(folder, exist_ok=True)
            jpg, png = bts_encode_frame(reader.read_image(i),
                                        reader.read_depth(i),
                                        source=f'{mat}[{i}]')
            rgb_name = f'rgb_{i:05d}.jpg'
            depth_name = f'sync_depth_{i:05d}.png'
            with open(osp.join(folder, rgb_name), 'wb') as f:
                f.write(jpg)
            with open(osp.join(folder, depth_name), 'wb') as f:
                f.write(png)
            lines.append(f'{scene}/{rgb_name} {scene}/{depth_name} '
                         f'{BTS_NYU_FOCAL}\n')
        with open(osp.join(out, LIST_NAMES[subset]), 'w',
                  encoding='utf-8') as f:
            f.writelines(lines)
        counts[subset] = len(lines)
    reader.close()
    return counts


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmzoe  # noqa: F401
    try:
        counts = convert(args.mat, args.out, args.split, args.subsets)
    except (OSError, ValueError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f'{sys.argv[0]}: error: {msg}', file=sys.stderr)
        return 2
    for subset, count in counts.items():
        print(f'{subset}: {count} frames in '
              f'{osp.join(args.out, "official_splits", subset)}, list '
              f'{osp.join(args.out, LIST_NAMES[subset])}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
