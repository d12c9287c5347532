"""What ``tools/train.py`` and ``tools/test.py`` share after parsing their
arguments: completing the config from the common arguments, and building
the runner and running it with one-line errors.

The tools check their files before they import this module (importing
:mod:`mmzoe` takes seconds): a missing config or checkpoint is reported at
once.
"""
import argparse
import os.path as osp
from typing import Callable

from mmengine.config import Config


def apply_runner_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Complete a loaded config from the common arguments.

    Sets the launcher, the default scope (``'mmzoe'`` unless the config
    names one) and the work dir: ``--work-dir``, else the config's
    ``work_dir``, else ``./work_dirs/<config name>``.

    Args:
        cfg (Config): The config (changed in place).
        args (argparse.Namespace): Parsed arguments with ``config``,
            ``work_dir`` and ``launcher``.

    Returns:
        Config: ``cfg``.
    """
    cfg.launcher = args.launcher
    if cfg.get('default_scope', None) is None:
        cfg.default_scope = 'mmzoe'
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def run_with_runner(build_cfg: Callable[[argparse.Namespace], Config],
                    args: argparse.Namespace, method: str,
                    prog: str) -> None:
    """Build the runner from ``build_cfg(args)`` and call ``method`` on it.

    Errors of the user's input end the tool with one line (see
    :func:`mmzoe.utils.tool_errors.run_tool`).

    Args:
        build_cfg (Callable): The tool's config builder.
        args (argparse.Namespace): Parsed arguments.
        method (str): ``'train'`` or ``'test'``.
        prog (str): The tool's name for error lines.
    """
    from mmzoe.engine.runner import build_runner
    from mmzoe.utils.tool_errors import run_tool

    def _run() -> None:
        getattr(build_runner(build_cfg(args)), method)()

    run_tool(_run, prog=prog)
