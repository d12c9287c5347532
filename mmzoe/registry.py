"""mmzoe registries: children of mmseg's, scope ``mmzoe``.

Unqualified names in a config with ``default_scope='mmzoe'`` resolve here first
and then in mmseg (and MMEngine), so mmzoe configs can use ``DepthEstimator`` or
``PackSegInputs`` without a prefix. A plain mmseg config reaches our components as
``type='mmzoe.ZoeDepthHead'`` after ``custom_imports=dict(imports=['mmzoe'])``.
"""
from typing import Optional

from mmengine.registry import Registry
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import \
    WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS


def _child(parent: Registry, location: Optional[str] = None) -> Registry:
    """The registry of scope ``mmzoe`` under mmseg's ``parent`` (same name).

    Args:
        parent (Registry): The mmseg registry it extends.
        location (str, optional): Module that registers into it, imported
            when the registry is first searched. Defaults to None (none).

    Returns:
        Registry: The child registry.
    """
    return Registry(parent.name, parent=parent, scope='mmzoe',
                    locations=[location] if location else [])


RUNNERS = _child(MMSEG_RUNNERS, 'mmzoe.engine')
LOOPS = _child(MMSEG_LOOPS, 'mmzoe.engine')
HOOKS = _child(MMSEG_HOOKS, 'mmzoe.engine')
DATASETS = _child(MMSEG_DATASETS, 'mmzoe.datasets')
DATA_SAMPLERS = _child(MMSEG_DATA_SAMPLERS, 'mmzoe.datasets')
TRANSFORMS = _child(MMSEG_TRANSFORMS, 'mmzoe.datasets.transforms')
MODELS = _child(MMSEG_MODELS, 'mmzoe.models')
MODEL_WRAPPERS = _child(MMSEG_MODEL_WRAPPERS, 'mmzoe.engine')
OPTIMIZERS = _child(MMSEG_OPTIMIZERS, 'mmzoe.engine')
OPTIM_WRAPPERS = _child(MMSEG_OPTIM_WRAPPERS, 'mmzoe.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child(MMSEG_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'mmzoe.engine')
PARAM_SCHEDULERS = _child(MMSEG_PARAM_SCHEDULERS, 'mmzoe.engine')
METRICS = _child(MMSEG_METRICS, 'mmzoe.evaluation')
EVALUATOR = _child(MMSEG_EVALUATOR, 'mmzoe.evaluation')
VISUALIZERS = _child(MMSEG_VISUALIZERS, 'mmzoe.visualization')
VISBACKENDS = _child(MMSEG_VISBACKENDS, 'mmzoe.visualization')
# No initializers of our own: the child only gives scope ``mmzoe`` a place in
# the tree, so init_cfg types (``Normal``, ``Kaiming``, ...) resolve without
# MMEngine's "Failed to search registry with scope" fallback warning.
WEIGHT_INITIALIZERS = _child(MMSEG_WEIGHT_INITIALIZERS)
LOG_PROCESSORS = _child(MMSEG_LOG_PROCESSORS, 'mmzoe.engine')

__all__ = [
    'RUNNERS', 'LOOPS', 'HOOKS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS',
    'MODELS', 'MODEL_WRAPPERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR',
    'VISUALIZERS', 'VISBACKENDS', 'WEIGHT_INITIALIZERS', 'LOG_PROCESSORS'
]
