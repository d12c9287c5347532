"""Stop a diverged training run instead of training on NaNs."""
import logging
import math
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper, OptimWrapperDict

from mmzoe.registry import HOOKS
from mmzoe.utils.tool_errors import NonFiniteError

DATA_BATCH = Optional[Union[dict, tuple, list]]


def _optimizers(optim_wrapper) -> List[torch.optim.Optimizer]:
    if isinstance(optim_wrapper, OptimWrapperDict):
        return [w.optimizer for w in optim_wrapper.values()]
    if isinstance(optim_wrapper, OptimWrapper):
        return [optim_wrapper.optimizer]
    return []


def _non_finite_tensors(state_dict: Dict[str, torch.Tensor]) -> List[str]:
    return [
        k for k, v in state_dict.items()
        if isinstance(v, torch.Tensor) and v.is_floating_point()
        and not bool(torch.isfinite(v).all())
    ]


@HOOKS.register_module()
class ZoeDivergenceHook(Hook):
    """Skip optimizer steps with a non-finite gradient; stop when it repeats.

    Before every optimizer step the hook checks the gradients (one total
    norm over all of them, a torch optimizer step pre-hook, so it works with
    any optim wrapper and after gradient clipping, which would otherwise
    spread a NaN norm to every gradient). A non-finite norm drops the
    gradients, so the step changes nothing, and the model's floating-point
    buffers and BatchNorm counters (running statistics, updated in the
    forward pass) are restored to their values before the iteration. An iteration whose loss is NaN or
    infinite counts as skipped too (e.g. when AMP's grad scaler skipped the
    step itself). Each skipped iteration is logged with its number; after
    more than ``max_skipped_steps`` skipped iterations in a row the run stops
    with :class:`~mmzoe.utils.tool_errors.NonFiniteError` (``tools/train.py``
    prints it as one line and exits with code 1). The skipped iterations
    never changed the weights, so every checkpoint written before is intact;
    as a last guard, a checkpoint with a non-finite weight or buffer is never
    written.

    In distributed training the decision is the same on every rank (the
    gradients are already averaged; the loss flag is reduced with ``max``).

    Args:
        max_skipped_steps (int): Skipped iterations in a row that are
            tolerated; one more stops the run. ``0`` stops at the first.
            Defaults to 3.
    """

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW) and LoggerHook

    def __init__(self, max_skipped_steps: int = 3) -> None:
        if int(max_skipped_steps) != max_skipped_steps or \
                max_skipped_steps < 0:
            raise ValueError('ZoeDivergenceHook: max_skipped_steps must be '
                             f'an integer >= 0, got {max_skipped_steps!r}')
        self.max_skipped_steps = int(max_skipped_steps)
        self._handles: list = []
        self._buffers: Sequence[torch.Tensor] = ()
        self._saved: Sequence[torch.Tensor] = ()
        self._grad_skipped = False
        self._in_a_row: List[int] = []
        self._runner = None

    # ------------------------------------------------------------ training
    def before_train(self, runner) -> None:
        """Register the gradient check on every optimizer of the run."""
        self._runner = runner
        self._in_a_row = []
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        # What a forward pass may change: floating-point buffers (running
        # statistics) and BatchNorm's counters, not constant index tables.
        self._buffers = [
            b for name, b in model.named_buffers()
            if b.is_floating_point() or name.endswith('num_batches_tracked')
        ]
        for optimizer in _optimizers(runner.optim_wrapper):
            self._handles.append(
                optimizer.register_step_pre_hook(self._check_gradients))

    def after_train(self, runner) -> None:
        """Remove the optimizer hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._saved = ()

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        """Keep a copy of the model buffers of this iteration's start."""
        self._grad_skipped = False
        with torch.no_grad():
            self._saved = [b.detach().clone() for b in self._buffers]

    def _check_gradients(self, optimizer: torch.optim.Optimizer, args,
                         kwargs) -> None:
        """Optimizer step pre-hook: drop non-finite gradients."""
        grads = [
            p.grad for group in optimizer.param_groups
            for p in group['params'] if p.grad is not None
        ]
        if not grads:
            return
        norm = torch.nn.utils.get_total_norm(grads, norm_type=2.0)
        if bool(torch.isfinite(norm)):
            return
        # No gradient: torch optimizers leave such parameters (and their
        # state, e.g. Adam's moments and step) untouched.
        for group in optimizer.param_groups:
            for p in group['params']:
                p.grad = None
        self._grad_skipped = True

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Log a skipped iteration, restore buffers, stop if it repeats."""
        loss = None
        if isinstance(outputs, dict) and 'loss' in outputs:
            value = outputs['loss']
            loss = float(value.detach() if isinstance(value, torch.Tensor)
                         else value)
        bad = self._grad_skipped or (loss is not None
                                     and not math.isfinite(loss))
        flag = torch.tensor([1.0 if bad else 0.0])
        all_reduce(flag, op='max')
        if not bool(flag.item()):
            self._in_a_row = []
            return
        iteration = runner.iter + 1
        with torch.no_grad():
            for buf, saved in zip(self._buffers, self._saved):
                buf.copy_(saved)
        self._in_a_row.append(iteration)
        print_log(
            f'ZoeDivergenceHook: iteration {iteration}: non-finite '
            f'{"gradient" if self._grad_skipped else "loss"} (loss = {loss}); '
            'the optimizer step was skipped and the weights and buffers are '
            f'those before it ({len(self._in_a_row)} skipped in a row, at '
            f'most {self.max_skipped_steps} tolerated).',
            logger='current',
            level=logging.WARNING)
        if len(self._in_a_row) > self.max_skipped_steps:
            last = runner.message_hub.get_info('last_ckpt', None)
            first = self._in_a_row[0]
            kept = (f'the last checkpoint ({last}) is intact'
                    if last else 'no checkpoint was written yet')
            raise NonFiniteError(
                'training diverged: non-finite loss or gradient in '
                f'{len(self._in_a_row)} iterations in a row ({first}-'
                f'{iteration}); no update was applied from iteration '
                f'{first} on and {kept}; lower the learning rate or raise '
                'ZoeDivergenceHook.max_skipped_steps')

    # ------------------------------------------------------------ saving
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Never write a checkpoint with a NaN or infinite tensor."""
        bad = _non_finite_tensors(checkpoint.get('state_dict', {}))
        if bad:
            last = runner.message_hub.get_info('last_ckpt', None)
            raise NonFiniteError(
                f'refusing to save a checkpoint at iteration {runner.iter}: '
                f'{len(bad)} weight/buffer tensor(s) are not finite (e.g. '
                f'{", ".join(bad[:3])}); '
                + (f'the last checkpoint ({last}) is kept'
                   if last else 'no checkpoint was written yet'))
