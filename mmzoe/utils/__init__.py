"""Utilities of mmzoe (no mmseg import at module level: see mmcv_compat)."""
from .checkpoint_coverage import (CheckpointMismatchError,
                                  check_checkpoint_covers_model,
                                  checkpoint_coverage_problems)
from .cpu_runtime import (DEFAULT_CPU_RUNTIME, apply_cpu_runtime,
                          configure_cpu_runtime, cpu_runtime_settings,
                          set_malloc_policy)
from .mmcv_compat import (MissingMMCVOpsError, has_real_mmcv_ext,
                          install_mmcv_ext_stub)
from .set_env import register_all_modules
from .tool_errors import NonFiniteError, ToolInputError
from .version_check import check_versions

__all__ = [
    'MissingMMCVOpsError', 'has_real_mmcv_ext', 'install_mmcv_ext_stub',
    'register_all_modules', 'check_versions', 'configure_cpu_runtime',
    'DEFAULT_CPU_RUNTIME', 'apply_cpu_runtime', 'cpu_runtime_settings',
    'set_malloc_policy', 'CheckpointMismatchError',
    'check_checkpoint_covers_model', 'checkpoint_coverage_problems',
    'NonFiniteError', 'ToolInputError'
]
