"""Print the fully resolved config, a depth summary and (optionally) the model.

The mmzoe counterpart of MMSegmentation's ``misc/print_config.py``: the
config after ``_base_`` merging and ``--cfg-options`` (``--dump`` writes it
to a file instead of mmseg's fixed ``example.py``), preceded by a short
summary of what matters for depth: the model parts, the network input size,
the depth range of the head, and per split the dataset, its data root and the
evaluator (metric, range, crop). ``--graph`` builds the model (random
weights, nothing is downloaded or loaded) and prints it with the parameter
count of each part.

Examples::

    python tools/misc/print_config.py configs/zoe_segdistill_nyu.py
    python tools/misc/print_config.py CONFIG --graph --dump resolved.py
"""
import argparse
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.config import DictAction

PROG = 'tools/misc/print_config.py'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Print the whole config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--graph', action='store_true',
                        help='also build the model and print it')
    parser.add_argument('--dump', default=None,
                        help='write the resolved config to this file')
    parser.add_argument('--summary-only', action='store_true',
                        help='print the summary, not the whole config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides, key=value')
    return parser.parse_args(argv)


def _type(cfg) -> str:
    return str(cfg.get('type', '?')) if cfg else '-'


def summary(cfg) -> List[str]:
    """Short depth-oriented summary lines of a config."""
    lines = []
    model = cfg.get('model', None)
    if model:
        parts = [f'{key}={_type(model.get(key))}'
                 for key in ('backbone', 'neck', 'decode_head',
                             'auxiliary_head') if model.get(key)]
        lines.append(f'model: {_type(model)} ({", ".join(parts)})')
        pre = model.get('data_preprocessor') or cfg.get(
            'data_preprocessor', None) or {}
        if pre.get('size'):
            lines.append(f'network input: {tuple(pre["size"])} (the data '
                         'preprocessor resizes every image to it)')
        head = model.get('decode_head') or {}
        if 'min_depth' in head or 'max_depth' in head:
            lines.append(f'depth range of the head: '
                         f'[{head.get("min_depth")}, {head.get("max_depth")}]'
                         ' m')
        test_cfg = model.get('test_cfg') or {}
        if test_cfg:
            lines.append(f'test_cfg: {dict(test_cfg)}')
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader', None)
        if not loader:
            continue
        ds = loader.get('dataset', {})
        where = osp.join(str(ds.get('data_root', '')),
                         str(ds.get('ann_file', '') or ''))
        text = (f'{split}: {_type(ds)} {where} (batch '
                f'{loader.get("batch_size")})')
        if split != 'train':
            ev = cfg.get(f'{split}_evaluator', None)
            evs = ev if isinstance(ev, (list, tuple)) else [ev]
            for e in evs:
                if e:
                    text += (f'; {_type(e)} range '
                             f'[{e.get("min_depth", "-")}, '
                             f'{e.get("max_depth", "-")}] m, crop '
                             f'{e.get("crop", "-")}')
        lines.append(text)
    return lines


def print_config(args: argparse.Namespace) -> None:
    from mmzoe.utils.tool_errors import load_tool_config
    cfg = load_tool_config(args.config, args.cfg_options)
    print(f'Summary of {args.config}:')
    for line in summary(cfg):
        print(f'  {line}')
    if not args.summary_only:
        print(f'Config:\n{cfg.pretty_text}')
    if args.dump:
        cfg.dump(args.dump)
        print(f'resolved config written to {args.dump}')
    if args.graph:
        import warnings

        from mmzoe.apis import init_model
        with warnings.catch_warnings():
            # "no checkpoint given": random weights are what --graph wants
            warnings.simplefilter('ignore', UserWarning)
            model = init_model(cfg, None, device='cpu')
        print(f'Model graph:\n{model}')
        print('Parameters:')
        for name, child in model.named_children():
            n = sum(p.numel() for p in child.parameters())
            if n:
                print(f'  {name}: {n:,}')
        print(f'  total: {sum(p.numel() for p in model.parameters()):,}')


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    from mmzoe.utils.tool_errors import run_tool  # registers mmzoe
    run_tool(lambda: print_config(args), prog=PROG)


if __name__ == '__main__':
    main()
