"""Safe checkpoint loading under ``torch.load(weights_only=True)``.

Since torch 2.6, :func:`torch.load` defaults to ``weights_only=True``: only
tensors, containers and explicitly allow-listed globals may be unpickled.
MMEngine 0.10.7 writes a few more objects into its checkpoints:

- ``message_hub.log_scalars`` holds :class:`mmengine.logging.HistoryBuffer`
  objects, whose pickled state references the statistics methods as
  ``getattr(HistoryBuffer, 'mean')`` (and ``'min'``, ``'max'``,
  ``'current'``);
- those buffers hold NumPy arrays and NumPy scalars, pickled through
  ``numpy.core.multiarray._reconstruct`` / ``numpy.ndarray`` /
  ``numpy.dtype`` / ``numpy.core.multiarray.scalar`` (``numpy._core`` under
  NumPy 2), and the ``dtype`` instances are rebuilt with ``__setstate__``,
  which needs their concrete class (``numpy.dtypes.Float64DType``, ...).

:func:`register_checkpoint_safe_globals` allow-lists exactly these, so that
``resume`` and ``load_from`` work without ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``
(which would turn every checkpoint load into arbitrary code execution).
``builtins.getattr`` is **not** allow-listed: its name is mapped to
:func:`_history_buffer_getattr`, which only returns HistoryBuffer statistics
methods and refuses everything else. ``numpy.dtype`` is not allow-listed
either: its name is mapped to :func:`_numeric_numpy_dtype`, which builds only
fixed-size bool/integer/float dtypes (no object, string, void or structured
dtype, so no array can carry Python objects).

:func:`register_safe_checkpoint_loaders` replaces every loader of MMEngine's
:class:`~mmengine.runner.CheckpointLoader` (local files, ``http(s)://``,
``s3://``/``petrel://``, ``torchvision://``/``modelzoo://``,
``open-mmlab://``/``openmmlab://``, ``mmcls://``, ``pavi://``) by one that
unpickles with ``weights_only=True`` explicitly (MMEngine's HTTP loader goes
through ``torch.hub.load_state_dict_from_url``, whose default is
``weights_only=False``; its module-level ``load_url``, which
``mmengine.runner.checkpoint.load_from_http`` calls, is replaced as well).
Every route that reads a checkpoint through MMEngine
(``load_from``, ``resume``, ``tools/test.py CFG CKPT``, ``init_cfg``
``Pretrained``, mmseg backbones' own ``CheckpointLoader`` calls) uses them. A
file that is not a weights-only checkpoint, or a truncated one, raises
:class:`UnsafeCheckpointError` / :class:`CheckpointReadError` with a one-line
message (the tools print it and exit 2).
"""
import io
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from .tool_errors import ToolInputError

SafeGlobal = Union[Callable, Tuple[Callable, str]]

# The statistics methods every HistoryBuffer has (_set_default_statistics).
_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')

# Fixed-size numeric and bool dtype classes: the only dtypes whose instances
# MMEngine's logged scalars and arrays use. No object, string or void dtypes.
_NUMPY_DTYPE_NAMES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8',
                      'uint16', 'uint32', 'uint64', 'float16', 'float32',
                      'float64', 'longdouble')

_registered = False
_loaders_registered = False


class UnsafeCheckpointError(ToolInputError, pickle.UnpicklingError):
    """A checkpoint needs more than ``weights_only=True`` allows (refused)."""


class CheckpointReadError(ToolInputError, RuntimeError):
    """A checkpoint file is empty, truncated or not a torch file."""


def _history_buffer_getattr(obj: Any, name: str) -> Callable:
    """Stand-in for ``builtins.getattr`` while unpickling checkpoints.

    Args:
        obj: The object whose attribute is looked up. Must be the
            :class:`HistoryBuffer` class (or a subclass).
        name (str): A registered HistoryBuffer statistics method name.

    Returns:
        Callable: The statistics method.

    Raises:
        pickle.UnpicklingError: For any other object or attribute.
    """
    import pickle
    allowed = set(_DEFAULT_STATISTICS) | set(
        HistoryBuffer._statistics_methods)
    if (isinstance(obj, type) and issubclass(obj, HistoryBuffer)
            and isinstance(name, str) and name in allowed):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); mmzoe only allows '
        'HistoryBuffer statistics methods here (refused for safety)')


def _numeric_numpy_dtype(spec: Any, align: bool = False,
                         copy: bool = True) -> np.dtype:
    """Stand-in for ``numpy.dtype`` while unpickling checkpoints.

    Args:
        spec: The dtype code NumPy pickles (``'f8'``, ``'i4'``, ``'b1'``...).
        align (bool): As :class:`numpy.dtype`.
        copy (bool): As :class:`numpy.dtype`.

    Returns:
        numpy.dtype: The dtype, if it is one of the fixed-size bool, integer
        or float dtypes of ``_NUMPY_DTYPE_NAMES``.

    Raises:
        pickle.UnpicklingError: For any other dtype (object ``'O'``, strings,
            void/structured, datetimes, ...).
    """
    dtype = np.dtype(spec, align, copy) if isinstance(spec, str) else None
    if (dtype is None or dtype.kind not in 'biuf'
            or dtype.fields is not None or dtype.subdtype is not None):
        raise pickle.UnpicklingError(
            f'numpy.dtype({spec!r}) is not allowed: mmzoe only allows '
            'fixed-size bool, integer and float dtypes here (refused for '
            'safety)')
    return dtype


def _numpy_multiarray_funcs() -> List[Tuple[Callable, str]]:
    try:  # NumPy >= 2
        from numpy._core import multiarray
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray
    entries = []
    # Register both module paths: a checkpoint saved under NumPy 1 names
    # ``numpy.core.multiarray``, one saved under NumPy 2 ``numpy._core``.
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        entries.append((multiarray._reconstruct, f'{module}._reconstruct'))
        entries.append((multiarray.scalar, f'{module}.scalar'))
    return entries


def _numpy_dtype_classes() -> List[type]:
    classes = []
    for name in _NUMPY_DTYPE_NAMES:
        classes.append(type(np.dtype(name)))
    return classes


def checkpoint_safe_globals() -> List[SafeGlobal]:
    """The globals MMEngine checkpoints need under ``weights_only=True``.

    Returns:
        list: Entries for :func:`torch.serialization.add_safe_globals`.
    """
    entries: List[SafeGlobal] = [
        HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr'),
        np.ndarray,
        (_numeric_numpy_dtype, 'numpy.dtype'),
    ]
    entries += _numpy_multiarray_funcs()
    entries += _numpy_dtype_classes()
    return entries


def register_checkpoint_safe_globals() -> None:
    """Allow-list the types MMEngine writes into checkpoints (idempotent).

    Called by ``import mmzoe``. Does not touch
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` and never switches
    ``weights_only`` off.
    """
    global _registered
    if _registered:
        return
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 loads with weights_only=False by default
        return
    add(checkpoint_safe_globals())
    _registered = True


def _refusal(filename: str, error: Exception) -> str:
    """The one line saying why ``filename`` was not unpickled."""
    text = str(error)
    reason = text
    marker = 'WeightsUnpickler error:'
    if marker in text:
        reason = text.split(marker, 1)[1].strip()
    reason = reason.splitlines()[0].strip() if reason.strip() else repr(error)
    # drop torch's advice to allow-list the global
    reason = reason.split(' Please use')[0].rstrip('. ')
    return (f'{filename}: refused to load, it is not a weights-only '
            f'checkpoint ({reason}); mmzoe unpickles checkpoints only with '
            'torch.load(weights_only=True), which never runs code from a file')


def load_weights_only(source: Union[str, io.BytesIO],
                      map_location: Any = None,
                      name: Optional[str] = None) -> Any:
    """``torch.load(source, weights_only=True)`` with one-line errors.

    Args:
        source (str | BytesIO): A local file or an in-memory file.
        map_location: As :func:`torch.load`.
        name (str, optional): The name shown in messages (the URL of a
            downloaded file). Defaults to ``source``.

    Returns:
        The unpickled checkpoint.

    Raises:
        UnsafeCheckpointError: The file needs globals that are not allowed.
        CheckpointReadError: The file is empty, truncated or not a torch
            checkpoint.
    """
    name = name or str(source)
    try:
        return torch.load(source, map_location=map_location,
                          weights_only=True)
    except pickle.UnpicklingError as e:
        if isinstance(e, UnsafeCheckpointError):
            raise
        raise UnsafeCheckpointError(_refusal(name, e)) from e
    except (EOFError, zipfile.BadZipFile) as e:
        raise CheckpointReadError(
            f'{name}: the checkpoint file is empty or truncated '
            f'({type(e).__name__}: {e})') from e
    except RuntimeError as e:
        text = str(e)
        if 'PytorchStreamReader' in text or 'zip archive' in text:
            raise CheckpointReadError(
                f'{name}: the checkpoint file is truncated or not a torch '
                f'file ({text.splitlines()[0]})') from e
        raise


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """Local files (MMEngine's fallback scheme ``''``)."""
    filename = osp.expanduser(filename)
    if filename.startswith('file://'):
        filename = filename[len('file://'):]
    if not osp.isfile(filename):
        raise FileNotFoundError(2, 'checkpoint file not found', filename)
    return load_weights_only(filename, map_location)


def _download(url: str, model_dir: Optional[str] = None,
              file_name: Optional[str] = None) -> str:
    """Download ``url`` into torch's hub cache (no unpickling) once."""
    from urllib.parse import urlparse

    from torch.hub import download_url_to_file, get_dir
    model_dir = model_dir or osp.join(get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    name = file_name or osp.basename(urlparse(url).path) or 'checkpoint.pth'
    cached = osp.join(model_dir, name)
    if not osp.isfile(cached):
        try:
            download_url_to_file(url, cached, progress=False)
        except OSError as e:  # URLError, HTTPError, refused connection
            raise ToolInputError(f'{url}: download failed ({e})') from e
    return cached


def load_url_weights_only(url: str,
                          model_dir: Optional[str] = None,
                          map_location: Any = None,
                          progress: bool = False,
                          check_hash: bool = False,
                          file_name: Optional[str] = None) -> Any:
    """Replacement of ``mmengine.runner.checkpoint.load_url``.

    Same arguments as ``torch.hub.load_state_dict_from_url`` (``progress``
    and ``check_hash`` are ignored); the downloaded file is read with
    ``weights_only=True``.
    """
    return load_weights_only(_download(url, model_dir, file_name),
                             map_location, name=url)


def load_from_http(filename: str, map_location: Any = None) -> Any:
    """``http://`` and ``https://``: download, then ``weights_only=True``.

    Rank 0 downloads first (as MMEngine's loader does), the other ranks then
    read the cached file.
    """
    from mmengine.dist import get_dist_info
    rank, world_size = get_dist_info()
    cached = _download(filename) if rank == 0 else None
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            cached = _download(filename)
    return load_weights_only(cached, map_location, name=filename)


def load_from_backend(filename: str, map_location: Any = None) -> Any:
    """``s3://`` / ``petrel://`` (MMEngine's petrel backend)."""
    from mmengine.fileio import get_file_backend
    backend = get_file_backend(filename, backend_args={'backend': 'petrel'})
    with io.BytesIO(backend.get(filename)) as buffer:
        return load_weights_only(buffer, map_location, name=filename)


def load_from_torchvision(filename: str, map_location: Any = None) -> Any:
    """``torchvision://NAME`` / ``modelzoo://NAME``: torchvision's URL."""
    from mmengine.runner.checkpoint import get_torchvision_models
    name = filename.split('://', 1)[1]
    return load_from_http(get_torchvision_models()[name], map_location)


def load_from_openmmlab(filename: str, map_location: Any = None) -> Any:
    """``open-mmlab://NAME`` / ``openmmlab://NAME``: OpenMMLab's model zoo."""
    from mmengine.runner.checkpoint import (_get_mmengine_home,
                                            get_deprecated_model_names,
                                            get_external_models)
    name = filename.split('://', 1)[1]
    name = get_deprecated_model_names().get(name, name)
    url = get_external_models()[name]
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location)
    return load_from_local(osp.join(_get_mmengine_home(), url),
                            map_location)


def load_from_mmcls(filename: str, map_location: Any = None) -> Any:
    """``mmcls://NAME``: MMClassification's model zoo."""
    from mmengine.runner.checkpoint import (_process_mmcls_checkpoint,
                                            get_mmcls_models)
    url = get_mmcls_models()[filename[len('mmcls://'):]]
    return _process_mmcls_checkpoint(load_from_http(url, map_location))


def _refuse_pavi(filename: str, map_location: Any = None) -> Any:
    """``pavi://``: not supported (its client unpickles on its own)."""
    raise ToolInputError(
        f'{filename}: pavi:// checkpoints are not supported by mmzoe; '
        'download the file and pass its local path')


# scheme prefixes of mmengine.runner.checkpoint.CheckpointLoader -> loader
SAFE_CHECKPOINT_LOADERS = {
    '': load_from_local,
    'http://': load_from_http,
    'https://': load_from_http,
    r'(\S+\:)?s3://': load_from_backend,
    r'(\S+\:)?petrel://': load_from_backend,
    'modelzoo://': load_from_torchvision,
    'torchvision://': load_from_torchvision,
    'open-mmlab://': load_from_openmmlab,
    'openmmlab://': load_from_openmmlab,
    'mmcls://': load_from_mmcls,
    'pavi://': _refuse_pavi,
}


def register_safe_checkpoint_loaders() -> None:
    """Route every MMEngine checkpoint scheme through ``weights_only=True``.

    Replaces (``force=True``) each loader registered in
    :class:`mmengine.runner.CheckpointLoader`; a scheme registered later by
    another package that mmzoe does not know is replaced by a refusal, so no
    unknown loader can unpickle with ``weights_only=False``. Idempotent;
    called by ``import mmzoe``.
    """
    global _loaders_registered
    from mmengine.runner.checkpoint import CheckpointLoader
    known = dict(SAFE_CHECKPOINT_LOADERS)
    for prefix in list(CheckpointLoader._schemes):
        if prefix not in known:
            known[prefix] = _refuse_unknown_scheme
    for prefix, loader in known.items():
        CheckpointLoader.register_scheme(prefix, loader, force=True)
    # MMEngine's own load_from_http (callable directly) downloads through
    # this module-level name; point it at the weights-only download too
    import mmengine.runner.checkpoint as mmengine_checkpoint
    mmengine_checkpoint.load_url = load_url_weights_only
    _loaders_registered = True


def _refuse_unknown_scheme(filename: str, map_location: Any = None) -> Any:
    raise ToolInputError(
        f'{filename}: mmzoe does not load checkpoints through this scheme '
        '(it cannot check that its loader uses weights_only=True); download '
        'the file and pass its local path')
