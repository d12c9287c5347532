"""A Runner that also trains distributed on machines without CUDA.

MMEngine 0.10.7 assumes CUDA for distributed runs: ``init_dist`` always calls
``torch.cuda.set_device(local_rank)`` and ``Runner.wrap_model`` wraps the model
in DDP with ``device_ids=[local_rank]``; both fail on a CPU-only machine.
:class:`ZoeRunner` changes exactly these two steps when MMEngine's device is
``'cpu'`` (no CUDA, or ``CUDA_VISIBLE_DEVICES=-1``):

- the process group is initialised with the ``gloo`` backend (from the same
  launcher environment variables MMEngine reads) and destroyed at exit, its
  threads joined before the interpreter shuts down (see
  :func:`destroy_dist`);
- the model is wrapped in DDP with ``device_ids=None``, and SyncBN layers are
  reverted to BatchNorm (torch's SyncBatchNorm needs a GPU).

On CUDA (or NPU/MLU/...) machines, and for non-distributed runs, it behaves
exactly like :class:`mmengine.runner.Runner`, except that on every device
:meth:`ZoeRunner.load_checkpoint` refuses a checkpoint that does not cover the
model (``allow_partial_load=True`` in the config allows it).

Checkpoints (:meth:`ZoeRunner.save_checkpoint`) are written atomically to a
local work dir: into a temporary file in the same directory, flushed to disk
(``fsync``), then renamed over the final name, so a killed run leaves either
the old file or the new one, never a truncated one. :meth:`ZoeRunner.resume`
refuses a checkpoint without optimizer or parameter-scheduler state (a best
or published checkpoint) unless the config sets ``resume_weights_only=True``.

On CPU runs it also applies ``env_cfg.cpu_runtime`` (default
``dict(malloc='reuse', flush_denormal=True)``; see
:func:`mmzoe.utils.cpu_runtime.apply_cpu_runtime`, the same call as
:func:`mmzoe.apis.init_model`) first thing in :meth:`setup_env`, before the
model is built, so that every intra-op thread flushes denormals.

Its config is a :class:`~.text_once_config.TextOnceConfig`: the formatted
text MMEngine writes into every checkpoint is formatted once, not per save.
"""
import atexit
import contextlib
import copy
import datetime
import gc
import os
import os.path as osp
import re
import subprocess
import warnings
from typing import Callable, Dict, Optional, Union

import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.dist import is_distributed, master_only
from mmengine.logging import print_log
from mmengine.model import (MMDistributedDataParallel, is_model_wrapper,
                            revert_sync_batchnorm)
from mmengine.registry import MODEL_WRAPPERS, DefaultScope
from mmengine.runner import Runner
from torch.nn.parallel import DistributedDataParallel

from mmzoe.registry import RUNNERS
from mmzoe.utils.checkpoint_coverage import (check_checkpoint_covers_model,
                                             checkpoint_coverage_problems)
from mmzoe.utils.cpu_runtime import apply_cpu_runtime, cpu_runtime_settings
from mmzoe.utils.tool_errors import ToolInputError

from .text_once_config import TextOnceConfig

# prefix of the temporary files of atomic checkpoint writes
TMP_PREFIX = '.tmp-'


def atomic_replace(tmp_path: str, path: str) -> None:
    """Flush ``tmp_path`` to disk, rename it to ``path``, flush the dir.

    Args:
        tmp_path (str): A finished file in the same directory as ``path``.
        path (str): The final name (replaced atomically if it exists).
    """
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp_path, path)
    dir_fd = os.open(osp.dirname(osp.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_text(path: str, text: str) -> None:
    """Write a small text file (e.g. ``last_checkpoint``) atomically."""
    tmp_path = osp.join(osp.dirname(osp.abspath(path)),
                        f'{TMP_PREFIX}{os.getpid()}-{osp.basename(path)}')
    with open(tmp_path, 'w') as f:
        f.write(text)
    atomic_replace(tmp_path, path)


def uses_cpu_distributed() -> bool:
    """Whether MMEngine runs on the CPU (no CUDA/NPU/MLU/MUSA/MPS device)."""
    return get_device() == 'cpu'


def _set_launcher_env(launcher: str, port: Optional[int] = None) -> None:
    """Fill RANK/WORLD_SIZE/LOCAL_RANK/MASTER_* like MMEngine's init_dist."""
    if launcher == 'pytorch':
        missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                               'MASTER_PORT') if k not in os.environ]
        if missing:
            raise RuntimeError(
                f'--launcher pytorch needs the environment variables '
                f'{", ".join(missing)} (start it with torchrun or '
                'tools/dist_train.sh)')
    elif launcher == 'slurm':
        node_list = os.environ['SLURM_NODELIST']
        if port is not None:
            os.environ['MASTER_PORT'] = str(port)
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {node_list} | head -n1')
        os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
        os.environ['RANK'] = os.environ['SLURM_PROCID']
        os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    elif launcher == 'mpi':
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            raise KeyError('The environment variable MASTER_ADDR is not set')
        os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
        os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
        os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']
    else:
        raise ValueError(f'Invalid launcher type: {launcher}')


def init_cpu_dist(launcher: str, **dist_cfg) -> None:
    """Initialise a ``gloo`` process group without touching CUDA.

    Args:
        launcher (str): ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        **dist_cfg: ``env_cfg.dist_cfg`` of the config. ``backend`` is
            replaced by ``'gloo'``, ``timeout`` is in seconds, ``port``
            is used by the slurm launcher, the rest goes to
            :func:`torch.distributed.init_process_group`.
    """
    kwargs = dict(dist_cfg)
    backend = kwargs.pop('backend', 'gloo')
    kwargs.pop('init_backend', None)
    port = kwargs.pop('port', None)
    if backend != 'gloo':
        print_log(
            f'No CUDA device: using the "gloo" backend instead of '
            f'"{backend}" for distributed training on the CPU.',
            logger='current')
    if kwargs.get('timeout') is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
    _set_launcher_env(launcher, port)
    torch_dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)
    atexit.register(destroy_dist)


def destroy_dist() -> None:
    """Destroy the default process group if there is one (idempotent).

    ``destroy_process_group`` only forgets the group: DDP's reducer keeps it
    alive, and the finished runner (a reference cycle: loops and hooks point
    back to it) is only freed by the garbage collector. The group's gloo
    threads (``gloo_tcp_loop``, ``pt_gloo_runloop``) then still run while
    the interpreter shuts down, and rank 0 sometimes ended with "terminate
    called without an active exception" (SIGABRT) after a complete run.
    Collecting first drops the last reference here, on the main thread, so
    the group's destructor joins its threads before the interpreter exits.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        gc.collect()
        torch_dist.destroy_process_group()
        gc.collect()


@RUNNERS.register_module()
class ZoeRunner(Runner):
    """:class:`mmengine.runner.Runner` with CPU (gloo) distributed support.

    Accepts the same arguments as :class:`mmengine.runner.Runner`; see the
    module docstring for what changes on machines without CUDA, and for
    atomic checkpoint writes and the weights-only resume check.
    """

    _resuming_from: Optional[str] = None

    @property
    def cfg(self) -> Config:
        """The runner's config, as a :class:`TextOnceConfig` (its text,
        saved in every checkpoint, is formatted once per content)."""
        return self._text_once_cfg

    @cfg.setter
    def cfg(self, cfg: Config) -> None:
        self._text_once_cfg = TextOnceConfig.from_config(cfg)

    def _own_scope(self):
        """Run under this runner's default scope.

        Built through a registry from a config with ``_scope_`` (mmseg's
        ``tools/train.py`` does ``RUNNERS.build(cfg)`` on our configs),
        MMEngine creates the runner inside a temporary scope override and,
        on leaving it, drops every ``DefaultScope`` made meanwhile, the
        runner's own included: loops and hooks built later would then be
        looked up in MMEngine's root registry only.
        """
        scope = self.default_scope
        current = DefaultScope.get_current_instance()
        if scope is None or (current is not None
                             and current.scope_name == scope.scope_name):
            return contextlib.nullcontext()
        return DefaultScope.overwrite_default_scope(scope.scope_name)

    def train(self) -> nn.Module:
        """Train (see :meth:`mmengine.runner.Runner.train`), in the
        runner's own default scope."""
        with self._own_scope():
            return super().train()

    def val(self) -> dict:
        """Validate, in the runner's own default scope."""
        with self._own_scope():
            return super().val()

    def test(self) -> dict:
        """Test, in the runner's own default scope."""
        with self._own_scope():
            return super().test()

    @master_only
    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """Save a checkpoint as MMEngine does, atomically on local disks.

        Same arguments as :meth:`mmengine.runner.Runner.save_checkpoint`.
        For a local ``out_dir`` (no file client or backend arguments) the
        file is written as ``out_dir/.tmp-PID-filename``, flushed, and
        renamed to ``out_dir/filename``.
        """
        kwargs = dict(
            save_optimizer=save_optimizer,
            save_param_scheduler=save_param_scheduler,
            meta=meta,
            by_epoch=by_epoch)
        if (file_client_args is not None or backend_args is not None
                or '://' in str(out_dir)):
            return super().save_checkpoint(
                out_dir, filename, file_client_args=file_client_args,
                backend_args=backend_args, **kwargs)
        tmp_name = f'{TMP_PREFIX}{os.getpid()}-{filename}'
        super().save_checkpoint(out_dir, tmp_name, **kwargs)
        atomic_replace(
            osp.join(out_dir, tmp_name), osp.join(out_dir, filename))

    def resume(self,
               filename: str,
               resume_optimizer: bool = True,
               resume_param_scheduler: bool = True,
               map_location: Union[str, Callable] = 'default') -> None:
        """Resume as MMEngine does, after checking the checkpoint can.

        Same arguments as :meth:`mmengine.runner.Runner.resume`.

        Raises:
            ToolInputError: The checkpoint has no ``meta`` (not a training
                checkpoint), or no optimizer / parameter-scheduler state and
                the config does not set ``resume_weights_only=True``.
        """
        self._resuming_from = filename
        try:
            super().resume(filename, resume_optimizer,
                           resume_param_scheduler, map_location)
        finally:
            self._resuming_from = None

    def _check_resumable(self, filename: str, checkpoint: dict) -> None:
        if not isinstance(checkpoint, dict) or 'meta' not in checkpoint:
            raise ToolInputError(
                f'cannot resume from {filename}: it has no "meta" (epoch and '
                'iteration), so it is not a training checkpoint; start a new '
                f'run from its weights with load_from={filename}')
        missing = ['optimizer'] if 'optimizer' not in checkpoint else []
        if (self.param_schedulers is not None
                and 'param_schedulers' not in checkpoint):
            missing.append('param_schedulers')
        if not missing:
            return
        what = ' and '.join(missing)
        if self.cfg.get('resume_weights_only', False):
            self.logger.warning(
                f'Resuming from {filename} without its {what} state '
                '(resume_weights_only=True): the optimizer and/or the '
                'parameter schedule start again from scratch.')
            return
        raise ToolInputError(
            f'cannot resume from {filename}: it is a weights-only checkpoint '
            f'(no {what} state, e.g. a best_* or published file), resuming '
            'would silently restart the optimizer and the lr schedule; start '
            f'a new run from its weights with load_from={filename}, or pass '
            '--cfg-options resume_weights_only=True to resume anyway')

    def setup_env(self, env_cfg: Dict) -> None:
        """Initialise a gloo process group on CPU, then MMEngine's setup.

        Args:
            env_cfg (dict): ``env_cfg`` of the config; its ``cpu_runtime``
                (:func:`~mmzoe.utils.cpu_runtime.cpu_runtime_settings`) is
                applied first when MMEngine's device is the CPU.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            applied = apply_cpu_runtime(
                cpu_runtime_settings(env_cfg), get_device())
        if applied is not None:
            # logged by _log_env, once the runner's own logger exists (a
            # logger made now would be MMEngine's default console logger)
            self._cpu_runtime_note = (
                f'cpu_runtime: malloc={applied["malloc"]}, flush_denormal='
                f'{applied["flush_denormal"]}' +
                ''.join(f' ({w.message})' for w in caught))
        if (self.distributed and not is_distributed()
                and uses_cpu_distributed()):
            init_cpu_dist(self.launcher, **env_cfg.get('dist_cfg', {}))
        super().setup_env(env_cfg)

    def _log_env(self, env_cfg: dict) -> None:
        """MMEngine's environment log, then the CPU runtime applied by
        :meth:`setup_env`."""
        super()._log_env(env_cfg)
        note = getattr(self, '_cpu_runtime_note', None)
        if note:
            self.logger.info(note)

    def wrap_model(
            self, model_wrapper_cfg: Optional[Dict],
            model: nn.Module) -> Union[DistributedDataParallel, nn.Module]:
        """Wrap in DDP without ``device_ids`` on CPU, else as MMEngine does.

        Args:
            model_wrapper_cfg (dict, optional): Config of the wrapper.
            model (nn.Module): Model to be wrapped.

        Returns:
            nn.Module: The wrapped (or unchanged) model.
        """
        if (not self.distributed or not uses_cpu_distributed()
                or is_model_wrapper(model)):
            return super().wrap_model(model_wrapper_cfg, model)
        model = model.to(get_device())
        if self.cfg.get('sync_bn', None) is not None:
            self.logger.info('SyncBN needs a GPU: keeping BatchNorm layers '
                             'for distributed training on the CPU.')
        # Configs often use SyncBN norm layers; they cannot run on the CPU.
        model = revert_sync_batchnorm(model)
        if model_wrapper_cfg is None:
            return MMDistributedDataParallel(
                module=model,
                device_ids=None,
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get(
                    'find_unused_parameters', False))
        wrapper_cfg = copy.deepcopy(dict(model_wrapper_cfg))
        wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
        wrapper_type = MODEL_WRAPPERS.get(wrapper_cfg['type'])
        default_args: dict = dict(module=model)
        if isinstance(wrapper_type, type) and issubclass(
                wrapper_type, DistributedDataParallel):
            default_args['device_ids'] = None
        return MODEL_WRAPPERS.build(wrapper_cfg, default_args=default_args)

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):
        """MMEngine's loading, refusing checkpoints that do not cover the
        model (``tools/test.py``, ``load_from``, ``--resume``); when resuming,
        also refusing weights-only checkpoints (see :meth:`resume`).

        The rule is :func:`mmzoe.utils.checkpoint_coverage.
        checkpoint_coverage_problems` (the one of ``init_model``: only
        training-only modules may be absent). ``allow_partial_load=True`` in
        the config (``--cfg-options allow_partial_load=True``) turns the
        error into a warning for a deliberate partial load.

        Args:
            filename (str): The checkpoint.
            map_location (str | Callable): See MMEngine. Defaults to 'cpu'.
            strict (bool): See MMEngine. Defaults to False.
            revise_keys (list): See MMEngine. Defaults to stripping
                ``module.``.

        Returns:
            dict: The loaded checkpoint.
        """
        checkpoint = super().load_checkpoint(
            filename, map_location=map_location, strict=strict,
            revise_keys=revise_keys)
        state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(
            checkpoint, dict) else checkpoint
        for pattern, replacement in revise_keys:
            state_dict = {
                re.sub(pattern, replacement, k): v
                for k, v in state_dict.items()
            }
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        if self.cfg.get('allow_partial_load', False):
            problems = checkpoint_coverage_problems(model, state_dict)
            if problems:
                self.logger.warning(
                    f'{filename}: partial load (allow_partial_load=True): '
                    + '; '.join(problems))
        else:
            check_checkpoint_covers_model(
                model, state_dict, filename,
                hint='For a deliberate partial load add --cfg-options '
                'allow_partial_load=True')
        if self._resuming_from is not None:
            self._check_resumable(filename, checkpoint)
        return checkpoint


def build_runner(cfg) -> Runner:
    """The runner of a tool: :class:`ZoeRunner` unless the config names its
    own ``runner_type``.

    Args:
        cfg (Config): The full config.

    Returns:
        Runner: The built runner.
    """
    if 'runner_type' not in cfg:
        return ZoeRunner.from_cfg(cfg)
    return RUNNERS.build(cfg)
