"""Train a model with an mmzoe (or mmseg) config.

Same arguments as MMSegmentation 1.2.2's ``tools/train.py``; ``--resume``
optionally takes a checkpoint path (mmseg's order ``--resume CONFIG``, a
config file right after the flag, resumes from the latest checkpoint). Uses
:class:`mmzoe.engine.ZoeRunner` (unless the config sets ``runner_type``),
which also trains distributed on machines without CUDA.

Examples::

    python tools/train.py configs/zoedepth/CONFIG.py
    python tools/train.py CONFIG --work-dir work_dirs/x --resume
    python tools/train.py CONFIG --resume work_dirs/x/iter_1000.pth
    python tools/train.py --resume CONFIG            # mmseg's order
    bash tools/dist_train.sh CONFIG 2
"""
import argparse
import logging
import os
import os.path as osp
import sys
from typing import Optional

from mmengine.config import Config, DictAction

PROG = 'tools/train.py'
_CONFIG_EXTS = ('.py', '.json', '.yaml', '.yml')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a depth estimator')
    # nargs='?' so that mmseg's order `--resume CONFIG` parses (argparse
    # gives CONFIG to --resume); see _config_given_to_resume below.
    parser.add_argument('config', nargs='?', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume training: without a value from the latest checkpoint in '
        'the work_dir, with a value from that checkpoint file')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
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
    # torch.distributed.launch passes --local-rank (torch >= 2.0);
    # torchrun sets the LOCAL_RANK environment variable instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.config is None and _config_given_to_resume(args.resume):
        # `--resume CONFIG` (mmseg's store_true flag before the config)
        args.config, args.resume = args.resume, 'auto'
    if args.config is None:
        parser.error('the following arguments are required: config')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _config_given_to_resume(value: Optional[str]) -> bool:
    """Whether ``--resume``'s value is a config file (not a checkpoint)."""
    return value not in (None, 'auto') and value.endswith(_CONFIG_EXTS)


def build_train_cfg(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line arguments.

    Args:
        args (argparse.Namespace): Parsed arguments.

    Returns:
        Config: The config to build the runner from.
    """
    from mmengine.logging import print_log

    from mmzoe.utils.tool_errors import (ToolInputError, check_file,
                                         load_tool_config)
    from mmzoe.utils.tool_setup import apply_runner_args
    cfg = apply_runner_args(load_tool_config(args.config, args.cfg_options),
                            args)

    if args.amp:
        from mmengine.device import get_device
        if get_device() in ('cpu', 'mps'):
            raise ToolInputError(
                '--amp needs a GPU (MMEngine\'s AmpOptimWrapper supports '
                'cuda, npu, mlu and musa devices); none was found')
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        elif optim_wrapper != 'OptimWrapper':
            raise ToolInputError(
                '--amp needs optim_wrapper.type "OptimWrapper" in the config, '
                f'got "{optim_wrapper}"')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None  # MMEngine then finds the latest checkpoint
    elif args.resume is not None:
        check_file(args.resume, 'checkpoint file')
        cfg.resume = True
        cfg.load_from = args.resume
    else:
        check_file(cfg.get('load_from', None), 'load_from checkpoint file')
    return cfg


def fail_early(args: argparse.Namespace) -> None:
    """Report a missing config/checkpoint before the slow imports."""
    missing = None
    if not osp.isfile(args.config):
        missing = f'config file not found: {args.config}'
    elif (args.resume not in (None, 'auto') and '://' not in args.resume
          and not osp.isfile(args.resume)):
        missing = f'checkpoint file not found: {args.resume}'
    if missing:
        print(f'{PROG}: error: {missing}', file=sys.stderr, flush=True)
        sys.exit(2)


def main(argv=None) -> None:
    args = parse_args(argv)
    fail_early(args)
    from mmzoe.utils.tool_setup import run_with_runner
    run_with_runner(build_train_cfg, args, 'train', prog=PROG)


if __name__ == '__main__':
    main()
