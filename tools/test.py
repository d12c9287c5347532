"""Test (and evaluate) a trained model with an mmzoe (or mmseg) config.

Same arguments as MMSegmentation 1.2.2's ``tools/test.py``. ``--tta`` is not
supported for depth (mmseg's ``SegTTAModel`` merges segmentation logits only);
ZoeDepth's flip averaging is ``model.test_cfg.flip=True``.

Examples::

    python tools/test.py CONFIG CHECKPOINT
    python tools/test.py CONFIG CHECKPOINT --out work_dirs/preds
    bash tools/dist_test.sh CONFIG CHECKPOINT 2
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, ConfigDict, DictAction

PROG = 'tools/test.py'
TTA_ERROR = ('--tta is not supported for depth estimation (mmseg\'s '
             'SegTTAModel merges segmentation logits only); use '
             '--cfg-options model.test_cfg.flip=True for flip averaging')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='mmzoe test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='if specified, the evaluation metric results will be dumped '
        'into the directory as json')
    parser.add_argument(
        '--out',
        type=str,
        help='the directory to save output predictions for offline '
        'evaluation (sets output_dir of the test evaluator)')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. If specified, '
        'it will be automatically saved to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test time augmentation (not supported for depth: use '
        'model.test_cfg.flip=True)')
    parser.add_argument(
        '--precision', choices=['fp32', 'bf16', 'fp16'], default='fp32',
        help='inference precision: the core\'s weights cast once, the metric '
        'head in float32 (ZoeInferencePrecisionHook); bf16 pays off only on '
        'CPUs with bf16 units (AVX512-BF16/AMX), fp16 on GPUs')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg: Config,
                               args: argparse.Namespace) -> Config:
    """Turn on drawing in the config's visualization hook."""
    from mmzoe.utils.tool_errors import ToolInputError
    default_hooks = cfg.get('default_hooks', {})
    if 'visualization' not in default_hooks:
        raise ToolInputError(
            '--show/--show-dir need a VisualizationHook in default_hooks, '
            'e.g. visualization=dict(type="SegVisualizationHook")')
    hook = default_hooks['visualization']
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
    return cfg


def _set_output_dir(evaluator_cfg, out: str) -> None:
    cfgs = evaluator_cfg if isinstance(evaluator_cfg, list) else [
        evaluator_cfg
    ]
    for metric in cfgs:
        if isinstance(metric, (dict, ConfigDict)):
            metric['output_dir'] = out
            if str(metric.get('type', '')).split('.')[-1] == 'IoUMetric':
                metric['keep_results'] = True


def build_test_cfg(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line arguments.

    Args:
        args (argparse.Namespace): Parsed arguments.

    Returns:
        Config: The config to build the runner from.
    """
    from mmzoe.utils.tool_errors import (ToolInputError, check_file,
                                         load_tool_config)
    check_file(args.config, 'config file')
    check_file(args.checkpoint, 'checkpoint file')
    if args.tta:
        raise ToolInputError(TTA_ERROR)
    from mmzoe.utils.tool_setup import apply_runner_args
    cfg = apply_runner_args(load_tool_config(args.config, args.cfg_options),
                            args)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.out is not None:
        _set_output_dir(cfg.test_evaluator, args.out)
    if getattr(args, 'precision', 'fp32') != 'fp32':
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='ZoeInferencePrecisionHook', precision=args.precision)
        ]
    return cfg


def fail_early(args: argparse.Namespace) -> None:
    """Report a missing config/checkpoint or --tta before the slow imports."""
    error = None
    if not osp.isfile(args.config):
        error = f'config file not found: {args.config}'
    elif '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        error = f'checkpoint file not found: {args.checkpoint}'
    elif args.tta:
        error = TTA_ERROR
    if error:
        print(f'{PROG}: error: {error}', file=sys.stderr, flush=True)
        sys.exit(2)


def main(argv=None) -> None:
    args = parse_args(argv)
    fail_early(args)
    from mmzoe.utils.tool_setup import run_with_runner
    run_with_runner(build_test_cfg, args, 'test', prog=PROG)


if __name__ == '__main__':
    main()
