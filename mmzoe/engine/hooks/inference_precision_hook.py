"""Evaluate a model in bf16 / fp16 with its weights cast once."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmzoe.models.utils.inference_precision import (PRECISIONS,
                                                    set_inference_precision)
from mmzoe.registry import HOOKS


@HOOKS.register_module()
class ZoeInferencePrecisionHook(Hook):
    """Cast the model for ``tools/test.py --precision`` before testing.

    ``before_test`` runs after the runner loaded the checkpoint, so the
    float32 weights are read and then cast once
    (:func:`~mmzoe.models.utils.set_inference_precision`: the core in the
    low precision, the metric head in float32). Only the test loop is
    affected; use it for evaluation runs, not for training.

    Args:
        precision (str): ``'fp32'``, ``'bf16'`` or ``'fp16'``.
    """

    priority = 'VERY_HIGH'

    def __init__(self, precision: str = 'fp32') -> None:
        if precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {sorted(PRECISIONS)}'
                             f', got {precision!r}.')
        self.precision = precision

    def before_test(self, runner) -> None:
        """Cast the (unwrapped) model."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        set_inference_precision(model, self.precision)
        runner.logger.info(f'test precision: {self.precision} (core weights '
                           'cast once, metric head in float32)')
