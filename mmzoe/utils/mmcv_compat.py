"""Compatibility layer for ``mmcv-lite`` (mmcv without compiled ops).

mmseg 1.2.2 imports ``mmcv.ops`` unguarded from modules that almost every part of
mmseg imports (``mmseg/utils/mask_classification.py``, ``models/losses/focal_loss.py``,
...). ``mmcv.ops`` in turn loads the compiled extension ``mmcv._ext``, which
``mmcv-lite`` does not ship, so ``import mmseg.models`` fails.

:func:`install_mmcv_ext_stub` registers a stand-in ``mmcv._ext`` module **only
when the real one cannot be imported**. Every attribute of the stand-in is a
function that raises :class:`MissingMMCVOpsError` when called, so nothing
silently computes a wrong result: code paths that really need a compiled op
(none of mmzoe's) fail with a message that says what to install. With full mmcv
installed this module does nothing.
"""
import importlib
import importlib.machinery
import importlib.util
import sys
import types
import warnings
from typing import Callable

_STUB_NAME = 'mmcv._ext'


class MissingMMCVOpsError(RuntimeError):
    """Raised when a compiled mmcv op is called under mmcv-lite."""


def _make_raiser(op_name: str) -> Callable:

    def _raise(*args, **kwargs):
        raise MissingMMCVOpsError(
            f'mmcv op "{op_name}" needs the compiled mmcv extension '
            '(mmcv._ext), which mmcv-lite does not have; this op needs full '
            'mmcv: install mmcv with ops (pip install "mmcv>=2.0.0rc4,<2.2.0" '
            'built for your torch/CUDA).')

    _raise.__name__ = op_name
    return _raise


class _MissingExtModule(types.ModuleType):
    """Module whose every public attribute is an op that raises on call."""

    __mmzoe_stub__ = True

    def __getattr__(self, name: str) -> Callable:
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        return _make_raiser(name)


def has_real_mmcv_ext() -> bool:
    """Whether the compiled ``mmcv._ext`` of a full mmcv install exists."""
    mod = sys.modules.get(_STUB_NAME)
    if mod is not None:
        return not getattr(mod, '__mmzoe_stub__', False)
    try:
        return importlib.util.find_spec(_STUB_NAME) is not None
    except (ImportError, ValueError):
        return False


def install_mmcv_ext_stub() -> bool:
    """Register the stand-in ``mmcv._ext`` if the real one is missing.

    Returns:
        bool: True if the stand-in was installed by this call or an earlier
        one, False if the real compiled extension is present.
    """
    if has_real_mmcv_ext():
        return False
    if _STUB_NAME not in sys.modules:
        stub = _MissingExtModule(_STUB_NAME)
        # A spec without a loader: ``importlib.util.find_spec`` and
        # ``pkgutil.find_loader`` (used by MMEngine's ``mmcv_full_available``)
        # then report "no loadable extension" instead of raising ValueError.
        stub.__spec__ = importlib.machinery.ModuleSpec(_STUB_NAME, None)
        sys.modules[_STUB_NAME] = stub
    # With the stand-in, ``mmcv.cnn.bricks.transformer`` can import
    # ``mmcv.ops.multi_scale_deform_attn`` and then warns that the class
    # "has been moved" (an ImportWarning about an op mmzoe never uses).
    warnings.filterwarnings(
        'ignore',
        message='``MultiScaleDeformableAttention`` has been moved',
        category=ImportWarning)
    return True
