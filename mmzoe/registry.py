"""mmzoe registries: children of mmseg's, scope ``mmzoe``.

Unqualified names in a config with ``default_scope='mmzoe'`` resolve here first
and then in mmseg (and MMEngine), so mmzoe configs can use ``DepthEstimator`` or
``PackSegInputs`` without a prefix. A plain mmseg config reaches our components as
``type='mmzoe.ZoeDepthHead'`` after ``custom_imports=dict(imports=['mmzoe'])``.
"""
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

RUNNERS = Registry(
    'runner', parent=MMSEG_RUNNERS, scope='mmzoe',
    locations=['mmzoe.engine'])
LOOPS = Registry('loop', parent=MMSEG_LOOPS, scope='mmzoe',
                 locations=['mmzoe.engine'])
HOOKS = Registry(
    'hook', parent=MMSEG_HOOKS, scope='mmzoe', locations=['mmzoe.engine'])
DATASETS = Registry(
    'dataset', parent=MMSEG_DATASETS, scope='mmzoe',
    locations=['mmzoe.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMSEG_DATA_SAMPLERS, scope='mmzoe',
    locations=['mmzoe.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMSEG_TRANSFORMS, scope='mmzoe',
    locations=['mmzoe.datasets.transforms'])
MODELS = Registry(
    'model', parent=MMSEG_MODELS, scope='mmzoe', locations=['mmzoe.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMSEG_MODEL_WRAPPERS, scope='mmzoe',
    locations=['mmzoe.engine'])
OPTIMIZERS = Registry(
    'optimizer', parent=MMSEG_OPTIMIZERS, scope='mmzoe',
    locations=['mmzoe.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMSEG_OPTIM_WRAPPERS, scope='mmzoe',
    locations=['mmzoe.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMSEG_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='mmzoe',
    locations=['mmzoe.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMSEG_PARAM_SCHEDULERS, scope='mmzoe',
    locations=['mmzoe.engine'])
METRICS = Registry(
    'metric', parent=MMSEG_METRICS, scope='mmzoe',
    locations=['mmzoe.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=MMSEG_EVALUATOR, scope='mmzoe',
    locations=['mmzoe.evaluation'])
VISUALIZERS = Registry(
    'visualizer', parent=MMSEG_VISUALIZERS, scope='mmzoe',
    locations=['mmzoe.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMSEG_VISBACKENDS, scope='mmzoe',
    locations=['mmzoe.visualization'])
# No initializers of our own: the child only gives scope ``mmzoe`` a place in
# the tree, so init_cfg types (``Normal``, ``Kaiming``, ...) resolve without
# MMEngine's "Failed to search registry with scope" fallback warning.
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMSEG_WEIGHT_INITIALIZERS, scope='mmzoe')
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMSEG_LOG_PROCESSORS, scope='mmzoe',
    locations=['mmzoe.engine'])

__all__ = [
    'RUNNERS', 'LOOPS', 'HOOKS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS',
    'MODELS', 'MODEL_WRAPPERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR',
    'VISUALIZERS', 'VISBACKENDS', 'WEIGHT_INITIALIZERS', 'LOG_PROCESSORS'
]
