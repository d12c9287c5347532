"""One-cycle schedules as ZoeDepth trains with them (torch ``OneCycleLR``).

Upstream ZoeDepth steps ``torch.optim.lr_scheduler.OneCycleLR`` every iteration with
``max_lr`` = each parameter group's own learning rate and ``cycle_momentum=True``
(AdamW's beta1 goes from ``max_momentum`` down to ``base_momentum`` while the lr
rises, then back up while it anneals). MMEngine's ``OneCycleLR`` takes one
``eta_max`` for all groups unless given a list, and has no momentum counterpart;
these two schedulers close those gaps while reusing MMEngine's machinery
(epoch→iteration conversion, resume through ``state_dict``).
"""
from typing import List, Optional, Sequence, Union

from mmengine.optim.scheduler import OneCycleLR
from mmengine.optim.scheduler.momentum_scheduler import MomentumSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import (INF,
                                                      OneCycleParamScheduler,
                                                      _ParamScheduler)

from mmzoe.registry import PARAM_SCHEDULERS


def _state_without_functions(scheduler) -> dict:
    """``state_dict`` minus the annealing function.

    MMEngine's one-cycle state holds ``anneal_func`` (a function object);
    pickling it would need arbitrary globals when the checkpoint is loaded
    with ``weights_only=True``. It is rebuilt from ``anneal_strategy`` in
    ``__init__``, so it need not be saved.
    """
    return {
        key: value
        for key, value in scheduler.__dict__.items()
        if key not in ('optimizer', 'anneal_func')
    }


@PARAM_SCHEDULERS.register_module()
class ZoeOneCycleLR(OneCycleLR):
    """``OneCycleLR`` whose peak lr defaults to each group's configured lr.

    Args:
        optimizer: The wrapped optimizer.
        eta_max (float | Sequence[float], optional): Peak lr per group. None
            (default) uses every parameter group's lr at construction, which
            is what upstream ZoeDepth passes to torch's ``OneCycleLR``
            (``max_lr=[group lr ...]``), so per-part learning rates made by an
            optimizer-wrapper constructor keep their ratios.
        **kwargs: Everything else as MMEngine's ``OneCycleLR`` (``pct_start``,
            ``div_factor``, ``final_div_factor``, ``anneal_strategy``,
            ``three_phase``, ``begin``, ``end``, ``by_epoch``, ...).
    """

    def __init__(self,
                 optimizer,
                 eta_max: Optional[Union[float, Sequence[float]]] = None,
                 **kwargs) -> None:
        if eta_max is None:
            eta_max = [group['lr'] for group in optimizer.param_groups]
        super().__init__(optimizer, eta_max=eta_max, **kwargs)

    def state_dict(self) -> dict:
        """State for checkpoints (loadable with ``weights_only=True``)."""
        return _state_without_functions(self)


@PARAM_SCHEDULERS.register_module()
class ZoeOneCycleMomentum(MomentumSchedulerMixin, _ParamScheduler):
    """The momentum half of torch's ``OneCycleLR(cycle_momentum=True)``.

    Momentum (beta1 for Adam-type optimizers) is annealed from
    ``max_momentum`` to ``base_momentum`` over the first ``pct_start`` of the
    steps and back to ``max_momentum`` over the rest (two phases), or
    max→base→max→max in the three-phase variant, with the same phase
    boundaries as :class:`ZoeOneCycleLR` so both stay in lock-step.

    Args:
        optimizer: The wrapped optimizer.
        base_momentum (float | Sequence[float]): Lowest momentum, reached when
            the learning rate peaks. Defaults to 0.85.
        max_momentum (float | Sequence[float]): Highest momentum, at the start
            and the end of the cycle. Defaults to 0.95.
        total_steps (int, optional): Steps in the cycle; defaults to
            ``end - begin``.
        pct_start (float): Fraction of the cycle spent in the first phase.
            Defaults to 0.3 (ZoeDepth uses 0.7).
        anneal_strategy (str): ``'cos'`` or ``'linear'``. Defaults to 'cos'.
        three_phase (bool): Use the three-phase schedule. Defaults to False.
        begin (int): First step of the schedule. Defaults to 0.
        end (int): Last step (exclusive). Defaults to INF.
        last_step (int): Index of the last step, for resuming. Defaults to -1.
        by_epoch (bool): Whether steps are epochs. Defaults to True.
        verbose (bool): Print every update. Defaults to False.
    """

    def __init__(self,
                 optimizer,
                 base_momentum: Union[float, Sequence[float]] = 0.85,
                 max_momentum: Union[float, Sequence[float]] = 0.95,
                 total_steps: Optional[int] = None,
                 pct_start: float = 0.3,
                 anneal_strategy: str = 'cos',
                 three_phase: bool = False,
                 begin: int = 0,
                 end: int = INF,
                 last_step: int = -1,
                 by_epoch: bool = True,
                 verbose: bool = False) -> None:
        if total_steps is None:
            total_steps = end - begin
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError('ZoeOneCycleMomentum needs a positive integer '
                             f'total_steps (or a finite end), got {total_steps}')
        if not 0. <= float(pct_start) <= 1.:
            raise ValueError(f'pct_start must be in [0, 1], got {pct_start}')
        if anneal_strategy not in ('cos', 'linear'):
            raise ValueError('anneal_strategy must be "cos" or "linear", got '
                             f'{anneal_strategy!r}')
        self.total_steps = total_steps
        self.anneal_func = (
            OneCycleParamScheduler._annealing_cos if anneal_strategy == 'cos'
            else OneCycleParamScheduler._annealing_linear)
        first_end = float(pct_start * total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                (first_end, 'max', 'base'),
                (float(2 * pct_start * total_steps) - 2, 'base', 'max'),
                (total_steps - 1, 'max', 'max'),
            ]
        else:
            self._schedule_phases = [
                (first_end, 'max', 'base'),
                (total_steps - 1, 'base', 'max'),
            ]
        self._base = self._per_group(optimizer, base_momentum, 'base_momentum')
        self._max = self._per_group(optimizer, max_momentum, 'max_momentum')
        super().__init__(
            optimizer,
            begin=begin,
            end=end,
            last_step=last_step,
            by_epoch=by_epoch,
            verbose=verbose)

    @staticmethod
    def _per_group(optimizer, value, name: str) -> List[float]:
        n = len(optimizer.param_groups)
        if isinstance(value, (list, tuple)):
            if len(value) != n:
                raise ValueError(f'expected {n} values for {name}, got '
                                 f'{len(value)}')
            return [float(v) for v in value]
        return [float(value)] * n

    @classmethod
    def build_iter_from_epoch(cls,
                              *args,
                              begin: int = 0,
                              end: int = INF,
                              total_steps: Optional[int] = None,
                              by_epoch: bool = True,
                              epoch_length: Optional[int] = None,
                              **kwargs):
        """Build an iteration-based instance from an epoch-based config."""
        if not by_epoch or not epoch_length:
            raise ValueError('convert_to_iter_based needs by_epoch=True and a '
                             'positive epoch_length')
        begin = int(begin * epoch_length)
        if end != INF:
            end = int(end * epoch_length)
        if total_steps is not None:
            total_steps = total_steps * epoch_length
        return cls(
            *args,
            begin=begin,
            end=end,
            total_steps=total_steps,
            by_epoch=False,
            **kwargs)

    def state_dict(self) -> dict:
        """State for checkpoints (loadable with ``weights_only=True``)."""
        return _state_without_functions(self)

    def _get_value(self) -> List[float]:
        step = self.last_step
        if step > self.total_steps:
            raise ValueError(f'Tried to step {step + 1} times; the cycle has '
                             f'{self.total_steps} steps')
        values = []
        for idx in range(len(self.optimizer.param_groups)):
            ends = {'base': self._base[idx], 'max': self._max[idx]}
            start_step = 0.
            for i, (end_step, start, stop) in enumerate(self._schedule_phases):
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    values.append(self.anneal_func(ends[start], ends[stop],
                                                   pct))
                    break
                start_step = end_step
        return values
