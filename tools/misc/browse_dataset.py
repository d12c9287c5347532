"""Look at a dataset after its pipeline: RGB | depth | labels panels.

The depth-aware counterpart of MMSegmentation's ``browse_dataset.py``: each
sample of the chosen split goes through the config's pipeline (the
augmentations included, so the panels show what the model is trained on),
and ``ZoeDepthVisualizer`` writes ``RGB | ground-truth depth | colour bar |
labels``: depth in a FIXED metric range (``--vmin``/``--vmax``, default the
config visualizer's, else 0-10 m; invalid pixels black), labels in the
dataset palette (ignore = black; the tile is left out for depth-only data).
Files are named ``<split>_<index>.png`` (the sample index in the dataset).

Examples::

    python tools/misc/browse_dataset.py configs/zoe_segdistill_nyu.py \\
        --output-dir work_dirs/browse --num 8
    python tools/misc/browse_dataset.py CONFIG --split val --output-dir DIR
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import DictAction

PROG = 'tools/misc/browse_dataset.py'
SPLITS = ('train', 'val', 'test')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write RGB | depth | labels panels of a dataset')
    parser.add_argument('config', help='config file')
    parser.add_argument('--output-dir', required=True,
                        help='folder for the panels')
    parser.add_argument('--split', choices=SPLITS, default='train',
                        help='which dataloader\'s dataset (default: train)')
    parser.add_argument('--num', type=int, default=None,
                        help='only the first N samples (default: all)')
    parser.add_argument('--vmin', type=float, default=None,
                        help='depth colour range start in metres')
    parser.add_argument('--vmax', type=float, default=None,
                        help='depth colour range end in metres')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides, key=value')
    args = parser.parse_args(argv)
    if args.num is not None and args.num < 1:
        parser.error('--num must be >= 1')
    return args


def _depth_range(cfg, args: argparse.Namespace):
    vis = cfg.get('visualizer', None) or {}
    vmin = args.vmin if args.vmin is not None else vis.get('vmin', 0.0)
    vmax = args.vmax if args.vmax is not None else vis.get('vmax', 10.0)
    return float(vmin), float(vmax)


def browse(args: argparse.Namespace) -> int:
    """Write the panels; returns how many."""
    from mmengine.utils import ProgressBar

    import mmzoe  # noqa: F401
    from mmzoe.registry import DATASETS
    from mmzoe.utils import register_all_modules
    from mmzoe.utils.tool_errors import ToolInputError, load_tool_config
    from mmzoe.visualization import ZoeDepthVisualizer

    cfg = load_tool_config(args.config, args.cfg_options)
    key = f'{args.split}_dataloader'
    if not cfg.get(key, None):
        raise ToolInputError(f'{args.config}: the config has no "{key}"')
    register_all_modules(init_default_scope=True)
    dataset = DATASETS.build(cfg[key].dataset)
    vmin, vmax = _depth_range(cfg, args)
    visualizer = ZoeDepthVisualizer.get_instance(
        'browse_dataset', vmin=vmin, vmax=vmax)
    visualizer.dataset_meta = dataset.metainfo
    os.makedirs(args.output_dir, exist_ok=True)
    num = len(dataset) if args.num is None else min(args.num, len(dataset))
    bar = ProgressBar(num)
    for idx in range(num):
        item = dataset[idx]
        # inputs: 3xHxW uint8 RGB after the pipeline (mmzoe's channel order)
        rgb = item['inputs'].permute(1, 2, 0).numpy()
        sample = item['data_samples']
        if 'gt_depth_map' not in sample:
            raise ToolInputError(
                f'{sample.metainfo.get("img_path", idx)}: the sample has no '
                'gt_depth_map')
        out_file = osp.join(args.output_dir, f'{args.split}_{idx:05d}.png')
        visualizer.add_datasample(f'{args.split}_{idx:05d}', rgb, sample,
                                  draw_pred=False, out_file=out_file)
        bar.update()
    print(f'\n{num} panels in {args.output_dir}')
    return num


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    from mmzoe.utils.tool_errors import run_tool
    run_tool(lambda: browse(args), prog=PROG)


if __name__ == '__main__':
    main()
