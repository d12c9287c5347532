"""Supported version windows of the OpenMMLab stack, checked at import time."""
from importlib import metadata
from typing import Dict, Tuple

from packaging.version import Version

# name -> (import name for the error message, minimum inclusive, maximum
# exclusive). The windows are the ones mmzoe is tested with (see
# requirements/runtime.txt) widened to releases with the same APIs.
SUPPORTED: Dict[str, Tuple[str, str]] = {
    'mmcv': ('2.0.0rc4', '2.2.0'),
    'mmengine': ('0.10.0', '1.0.0'),
    'mmsegmentation': ('1.2.0', '1.3.0'),
    'timm': ('1.0.0', '2.0.0'),
    'torch': ('2.1.0', '3.0.0'),
}

_DIST_CANDIDATES = {
    'mmcv': ('mmcv', 'mmcv-lite', 'mmcv-full'),
}


def _installed_version(name: str) -> str:
    for dist in _DIST_CANDIDATES.get(name, (name, )):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    module = __import__('mmseg' if name == 'mmsegmentation' else name)
    return module.__version__


def check_versions() -> None:
    """Raise ImportError naming the package if a version is unsupported.

    Raises:
        ImportError: one line naming the package, the installed version and
            the supported window.
    """
    for name, (low, high) in SUPPORTED.items():
        try:
            found = _installed_version(name)
        except ImportError:
            raise ImportError(
                f'mmzoe needs {name}>={low},<{high}, but it is not installed; '
                'run: pip install -r requirements/runtime.txt') from None
        version = Version(found.split('+')[0])
        if not Version(low) <= version < Version(high):
            raise ImportError(
                f'mmzoe supports {name}>={low},<{high}, but {name}=={found} '
                'is installed; run: pip install -r requirements/runtime.txt')
