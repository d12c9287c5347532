"""mmzoe: ZoeDepth metric depth estimation as an OpenMMLab (MMSeg 1.x) plugin.

Importing :mod:`mmzoe` registers all of its components in the ``mmzoe`` registry
scope (children of mmseg's registries). The mmcv-lite compatibility layer must
run before anything imports ``mmseg.models``, so it comes first here.
"""
from .utils.mmcv_compat import install_mmcv_ext_stub

install_mmcv_ext_stub()

from .utils.version_check import check_versions  # noqa: E402

check_versions()

from .version import __version__, version_info  # noqa: E402,F401
from . import registry  # noqa: E402,F401
from .utils.checkpoint import (  # noqa: E402
    register_checkpoint_safe_globals, register_safe_checkpoint_loaders)

register_checkpoint_safe_globals()
register_safe_checkpoint_loaders()

import mmseg.models  # noqa: E402,F401  (a child registry does not import it)
import mmseg.datasets  # noqa: E402,F401
import mmseg.evaluation  # noqa: E402,F401
import mmseg.engine  # noqa: E402,F401
import mmseg.structures  # noqa: E402,F401

from . import (apis, datasets, engine, evaluation, models,  # noqa: E402,F401
               visualization)

__all__ = ['__version__', 'version_info']
