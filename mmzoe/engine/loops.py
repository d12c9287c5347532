"""Training loop that validates at a fraction of an epoch (ZoeDepth style)."""
import math
from typing import Dict, Sequence, Union

from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader

from mmzoe.registry import LOOPS


@LOOPS.register_module()
class ZoeEpochBasedTrainLoop(EpochBasedTrainLoop):
    """Epoch-based loop that can validate every fraction of an epoch.

    Upstream ZoeDepth validates every ``int(validate_every * iters_per_epoch)``
    global iterations (``validate_every=0.25``: four times per epoch), not only
    at epoch ends. With ``val_interval`` < 1 this loop does the same: it
    validates whenever the global iteration count is a multiple of
    ``val_iter_interval = max(1, int(val_interval * len(dataloader)))`` and
    once more at the very end of training if the last iteration was not one
    (a validation that falls on an epoch's last iteration is run after the
    epoch ends, so it carries that epoch's number).
    With ``val_interval`` >= 1 (an integer number of epochs) it behaves exactly
    like MMEngine's ``EpochBasedTrainLoop``. The interval is derived from the
    dataloader length at run time, so it follows the dataset size and the
    number of processes (each rank's dataloader is shorter under DDP).

    Args:
        runner: The runner.
        dataloader (DataLoader | dict): The training dataloader or its config.
        max_epochs (int): Total training epochs.
        val_begin (int): The epoch from which validation starts. Defaults to 1;
            with fractional intervals validation starts in epoch ``val_begin``
            (1 = the first epoch).
        val_interval (float | int): Validation interval in epochs; a value in
            (0, 1) means a fraction of an epoch. Defaults to 1.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_epochs: int,
                 val_begin: int = 1,
                 val_interval: Union[int, float] = 1,
                 **kwargs) -> None:
        if val_interval <= 0:
            raise ValueError(f'val_interval must be > 0, got {val_interval}')
        self.fractional = val_interval < 1
        super().__init__(
            runner,
            dataloader,
            max_epochs=max_epochs,
            val_begin=val_begin,
            val_interval=1 if self.fractional else int(val_interval),
            **kwargs)
        self.val_fraction = float(val_interval)
        self.val_iter_interval = (
            max(1, int(self.val_fraction * len(self.dataloader)))
            if self.fractional else int(val_interval) * len(self.dataloader))

    def run(self):
        """Launch training; see the class docstring for validation timing."""
        if not self.fractional:
            return super().run()
        self.runner.call_hook('before_train')
        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch()
            # a validation due on an epoch's last iteration runs here, after
            # the epoch count moved on, so it is logged (and a best
            # checkpoint named) with the finished epoch, as MMEngine does
            if self._should_validate() or (
                    self._epoch == self._max_epochs
                    and self.runner.val_loop is not None):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train')
        return self.runner.model

    def _should_validate(self) -> bool:
        return (self.runner.val_loop is not None
                and self._iter % self.val_iter_interval == 0
                and self._epoch + 1 >= self.val_begin)

    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        """Run one iteration, then validate if the interval is reached."""
        super().run_iter(idx, data_batch)
        if (self.fractional and idx + 1 < len(self.dataloader)
                and self._should_validate()):
            self.runner.val_loop.run()
            self.runner.model.train()
