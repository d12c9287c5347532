"""Training loop that validates at a fraction of an epoch (ZoeDepth style)
and resumes anywhere inside an epoch with the draws of an uninterrupted run."""
import itertools
from typing import Dict, Iterator, Optional, Sequence, Union

from mmengine.dist import get_rank
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader, Sampler

from mmzoe.registry import LOOPS
from mmzoe.utils.seeding import (SeededIndex, iteration_seed, sample_seed,
                                 seed_everything)


class _PositionSeededSampler(Sampler):
    """Wraps a training sampler: seeded indices, skipping a resumed prefix.

    Yields the wrapped sampler's indices as :class:`SeededIndex` with the
    seed ``sample_seed(seed, epoch, index)``; :meth:`start_epoch` sets the
    epoch and how many leading samples of it were already trained on.
    ``len()`` is the whole epoch's length (what the loop and the logger
    count with); a resumed epoch yields only its remaining samples.

    Args:
        sampler (Sampler): The sampler of the training dataloader.
        seed (int): The run's seed.
    """

    def __init__(self, sampler: Sampler, seed: int) -> None:
        self.sampler = sampler
        self.seed = int(seed)
        self.epoch = 0
        self.skip = 0

    def start_epoch(self, seed: int, epoch: int, skip: int = 0) -> None:
        """Set the seed (it may change on resume), the epoch of the next
        iteration and the number of samples to skip."""
        self.seed = int(seed)
        self.epoch = int(epoch)
        self.skip = int(skip)

    def __iter__(self) -> Iterator[SeededIndex]:
        # read epoch and skip now: DataLoader workers prefetch lazily
        epoch, skip, seed = self.epoch, self.skip, self.seed
        indices = itertools.islice(iter(self.sampler), skip, None)
        return (SeededIndex(i, sample_seed(seed, epoch, i)) for i in indices)

    def __len__(self) -> int:
        return len(self.sampler)


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

    Resuming (deterministic, any iteration): a checkpoint whose ``iter`` lies
    inside an epoch (``epoch * len(dataloader) < iter``) continues that
    epoch at its next iteration (the samples already trained on are skipped
    in the sampler, not loaded), so the run ends at
    ``max_epochs * len(dataloader)`` iterations whatever it resumed from.
    Random draws depend on the position only (:mod:`mmzoe.utils.seeding`):
    the main process's Python/NumPy/torch RNGs are seeded before each
    iteration from ``(seed, rank, iteration)`` and each sample's pipeline
    runs under RNGs seeded from ``(seed, epoch, index)`` (in whichever
    DataLoader worker loads it), so a resumed run draws exactly what the
    uninterrupted run drew.

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
        self._seeded_sampler = self._wrap_sampler()

    def _wrap_sampler(self) -> Optional[_PositionSeededSampler]:
        batch_sampler = getattr(self.dataloader, 'batch_sampler', None)
        if batch_sampler is None or not hasattr(batch_sampler, 'sampler'):
            return None  # no auto-batching: indices are not ours to seed
        wrapped = _PositionSeededSampler(batch_sampler.sampler,
                                         self.runner.seed)
        batch_sampler.sampler = wrapped
        return wrapped

    def _done_in_epoch(self) -> int:
        """Iterations of the current epoch already done (after a resume)."""
        per_epoch = len(self.dataloader)
        done = self._iter - self._epoch * per_epoch
        if not 0 <= done < per_epoch:
            raise ValueError(
                f'cannot resume at iteration {self._iter} of epoch '
                f'{self._epoch + 1}: an epoch has {per_epoch} iterations '
                'here (did the dataset, batch size or number of processes '
                'change since the checkpoint was written?)')
        return done

    def run_epoch(self) -> None:
        """Iterate (the rest of) one epoch.

        After a resume inside an epoch, its first iterations are skipped;
        the batch indices passed to the hooks continue where they were.
        """
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        done = self._done_in_epoch()
        batches = self.dataloader
        if self._seeded_sampler is not None:
            batch_size = getattr(self.dataloader.batch_sampler, 'batch_size',
                                 None)
            if done and batch_size is None:
                raise ValueError('cannot resume inside an epoch: the batch '
                                 'sampler has no batch_size')
            self._seeded_sampler.start_epoch(self.runner.seed, self._epoch,
                                             done * (batch_size or 0))
        elif done:
            batches = itertools.islice(self.dataloader, done, None)
        for idx, data_batch in enumerate(batches, start=done):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

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
        """Seed the RNGs for this iteration, run it, then validate if the
        interval is reached."""
        seed_everything(
            iteration_seed(self.runner.seed, get_rank(), self._iter))
        super().run_iter(idx, data_batch)
        if (self.fractional and idx + 1 < len(self.dataloader)
                and self._should_validate()):
            self.runner.val_loop.run()
            self.runner.model.train()
