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
methods and refuses everything else.
"""
from typing import Any, Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

SafeGlobal = Union[Callable, Tuple[Callable, str]]

# The statistics methods every HistoryBuffer has (_set_default_statistics).
_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')

# Fixed-size numeric and bool dtype classes: the only dtypes whose instances
# MMEngine's logged scalars and arrays use. No object, string or void dtypes.
_NUMPY_DTYPE_NAMES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8',
                      'uint16', 'uint32', 'uint64', 'float16', 'float32',
                      'float64', 'longdouble')

_registered = False


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
        np.dtype,
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
