"""Process-wide CPU settings that make training and inference faster.

Two switches, on by default for CPU runs (:data:`DEFAULT_CPU_RUNTIME`,
``env_cfg.cpu_runtime`` in a config). :func:`apply_cpu_runtime` is the one
place that applies them; :func:`~mmzoe.apis.init_model` (hence
``tools/infer.py``) and :class:`~mmzoe.engine.runner.ZoeRunner` (hence
``tools/train.py``, ``tools/test.py`` and MMSegmentation's own tools, through
the config's ``runner_type``) call it before the model is built, and only when
the model runs on the CPU: a GPU run keeps glibc's and the CPU's defaults
unless the settings say ``on_gpu=True``.

* **glibc malloc policy** (Linux/glibc only). By default glibc serves large
  blocks (the activations of a 384x384 SwinV2-B: 5-100 MB each) with fresh
  ``mmap`` calls and returns them on ``free``, so every training step faults
  its ~2 GB of activations in again page by page (measured: ~1/3 of a CPU
  training step). ``'reuse'`` keeps freed memory in the process
  (``M_MMAP_MAX=0``, no trimming): no page faults after the first step, but
  the resident set stays at its high-water mark. ``'release'`` does the
  opposite (``M_MMAP_THRESHOLD=M_TRIM_THRESHOLD=128 KiB``, fixed): memory goes
  back to the system as soon as it is freed, so RSS follows the live tensors
  (lowest memory, slowest). ``'default'`` leaves glibc alone.
* **flush denormals** (x86 FTZ/DAZ via :func:`torch.set_flush_denormal`).
  The log-binomial softmax over 64 bins and its backward produce
  probabilities below 1.2e-38, on which x86 arithmetic is 10-100x slower.
  Flushing them to zero changes no result above 1e-38. The flag is
  per-thread and threads inherit it when they are created, so it must be
  set before torch starts its intra-op thread pool (the first large
  operation); :func:`configure_cpu_runtime` checks that it holds on every
  thread and warns otherwise.

glibc also reads ``MALLOC_MMAP_MAX_`` / ``MALLOC_TRIM_THRESHOLD_`` from the
environment, but only when the process starts; ``mallopt`` (called here
through :mod:`ctypes`) changes the same parameters at any time and applies to
every later allocation, so no environment variable is needed.

Example::

    from mmzoe.utils import configure_cpu_runtime
    configure_cpu_runtime(malloc='reuse', flush_denormal=True)  # first thing
"""
import ctypes
import ctypes.util
import platform
import warnings
from typing import Dict, Mapping, Optional, Union

import torch

# mallopt parameters (glibc <malloc.h>)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4

MALLOC_POLICIES = ('default', 'reuse', 'release')
_RELEASE_BYTES = 128 * 1024
_NEVER_TRIM = 2**31 - 1  # mallopt takes an int: trim only above 2 GiB

# What every CPU user path gets unless the config says otherwise
# (``env_cfg.cpu_runtime``; ``None`` or ``False`` there turns it off).
DEFAULT_CPU_RUNTIME: Dict[str, object] = dict(
    malloc='reuse', flush_denormal=True)


def _libc() -> Optional[ctypes.CDLL]:
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError:
        return None


def set_malloc_policy(policy: str) -> bool:
    """Set glibc's malloc policy for the rest of the process.

    Args:
        policy (str): 'default' (leave glibc alone), 'reuse' (keep freed
            memory: fastest) or 'release' (return freed memory at once:
            smallest resident set).

    Returns:
        bool: True if the policy is in force, False where glibc's
        ``mallopt`` is not available (a warning says so).

    Raises:
        ValueError: If ``policy`` is not one of :data:`MALLOC_POLICIES`.
    """
    if policy not in MALLOC_POLICIES:
        raise ValueError(f'cpu malloc policy must be one of '
                         f'{MALLOC_POLICIES}, got {policy!r}')
    if policy == 'default':
        return True
    libc = _libc()
    if libc is None or not hasattr(libc, 'mallopt'):
        warnings.warn(f'cpu malloc policy {policy!r} needs glibc (Linux); '
                      'left unchanged on this system.')
        return False
    if policy == 'reuse':
        settings = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _NEVER_TRIM))
    else:
        settings = ((_M_MMAP_THRESHOLD, _RELEASE_BYTES),
                    (_M_TRIM_THRESHOLD, _RELEASE_BYTES))
    for param, value in settings:
        # mallopt returns 1 on success, 0 on error.
        if libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) != 1:
            warnings.warn(f'mallopt({param}, {value}) failed; cpu malloc '
                          f'policy {policy!r} is only partly applied.')
            return False
    return True


def flush_denormal_on_all_threads() -> bool:
    """Whether denormal results are flushed to zero on every intra-op
    thread (a multi-threaded multiplication that would give denormals)."""
    n = 1 << 17  # above torch's parallel grain size
    out = torch.full((n, ), 1e-30, dtype=torch.float32) * 1e-10
    return bool((out == 0).all())


def configure_cpu_runtime(malloc: str = 'default',
                          flush_denormal: bool = False) -> Dict[str, object]:
    """Apply the CPU settings; call it before the first large torch op.

    Args:
        malloc (str): glibc malloc policy, see :func:`set_malloc_policy`.
            Defaults to 'default'.
        flush_denormal (bool): Flush denormal floats to zero on all
            intra-op threads. Defaults to False.

    Returns:
        dict: What is in force: ``malloc`` (the policy, or 'default' if it
        could not be set) and ``flush_denormal`` (checked on all threads).
    """
    applied: Dict[str, object] = {}
    applied['malloc'] = malloc if set_malloc_policy(malloc) else 'default'
    if flush_denormal:
        if not torch.set_flush_denormal(True):
            warnings.warn('flush_denormal: this CPU does not support it; '
                          'left off.')
            applied['flush_denormal'] = False
        else:
            ok = flush_denormal_on_all_threads()
            if not ok:
                warnings.warn(
                    'flush_denormal is on for the calling thread only: '
                    "torch's intra-op threads were started before it was "
                    'set. Call configure_cpu_runtime() before any large '
                    'torch operation.')
            applied['flush_denormal'] = ok
    else:
        applied['flush_denormal'] = False
    return applied


def cpu_runtime_settings(env_cfg: Optional[Mapping]) -> Optional[dict]:
    """The CPU runtime a config asks for.

    Args:
        env_cfg (Mapping, optional): The config's ``env_cfg`` (None if it
            has none).

    Returns:
        dict | None: ``env_cfg.cpu_runtime`` if the key is present (None or
        False: off), else :data:`DEFAULT_CPU_RUNTIME`.
    """
    env_cfg = env_cfg or {}
    settings = env_cfg.get('cpu_runtime', DEFAULT_CPU_RUNTIME)
    if not settings:
        return None
    if not isinstance(settings, Mapping):
        raise TypeError('env_cfg.cpu_runtime must be a dict (malloc, '
                        'flush_denormal, on_gpu) or None, got '
                        f'{type(settings).__name__}.')
    return dict(settings)


def apply_cpu_runtime(settings: Optional[Mapping],
                      device: Union[str, torch.device] = 'cpu'
                      ) -> Optional[Dict[str, object]]:
    """Apply CPU runtime settings for a model that runs on ``device``.

    Args:
        settings (Mapping, optional): ``malloc`` and ``flush_denormal`` as
            in :func:`configure_cpu_runtime`, plus ``on_gpu`` (bool, default
            False: leave the process alone when ``device`` is not the CPU).
            None: do nothing.
        device (str | torch.device): Where the model runs. Defaults to
            ``'cpu'``.

    Returns:
        dict | None: What is in force (see :func:`configure_cpu_runtime`),
        or None if nothing was applied.
    """
    if not settings:
        return None
    settings = dict(settings)
    on_gpu = bool(settings.pop('on_gpu', False))
    unknown = set(settings) - {'malloc', 'flush_denormal'}
    if unknown:
        raise KeyError(f'unknown cpu_runtime key(s) {sorted(unknown)}; '
                       'expected malloc, flush_denormal, on_gpu.')
    if str(device).split(':')[0] != 'cpu' and not on_gpu:
        return None
    return configure_cpu_runtime(**settings)
