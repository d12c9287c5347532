"""Random draws that depend on where training is, not on its history.

A resumed run must draw the same augmentation parameters and the same random
layer masks (drop path) as the uninterrupted run. Saving and restoring RNG
states at checkpoint time is not enough: validation, hooks and DataLoader
iterator creation between a save and the next iteration consume draws, and
DataLoader worker processes have their own RNGs that a checkpoint cannot see.
mmzoe therefore derives every seed from a position:

- :func:`iteration_seed`: the main process's Python, NumPy and torch RNGs are
  seeded before each training iteration from ``(seed, rank, iteration)``
  (:class:`~mmzoe.engine.ZoeEpochBasedTrainLoop`);
- :func:`sample_seed`: the data pipeline of a sample runs under RNGs seeded
  from ``(seed, epoch, dataset index)``, in whichever process (main or
  DataLoader worker, persistent or not) loads it; the index arrives as a
  :class:`SeededIndex` and :func:`seeded_rng` applies it.

The seeds are :class:`numpy.random.SeedSequence` hashes, so neighbouring
positions get unrelated streams.
"""
import contextlib
import random
from typing import Iterator

import numpy as np
import torch


def derive_seed(*keys: int) -> int:
    """A 32-bit seed hashed from non-negative integer keys.

    Args:
        *keys (int): The position, e.g. ``(seed, epoch, index)``.

    Returns:
        int: A seed in ``[0, 2**32)``.
    """
    entropy = [int(k) % (1 << 63) for k in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def iteration_seed(seed: int, rank: int, iteration: int) -> int:
    """Seed of the main process RNGs for one training iteration."""
    return derive_seed(seed, 1, rank, iteration)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """Seed of the data pipeline of sample ``index`` in ``epoch``."""
    return derive_seed(seed, 2, epoch, index)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (all devices).

    Args:
        seed (int): A seed in ``[0, 2**32)``.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Run a block under seeded Python/NumPy/torch-CPU RNGs, then restore.

    The RNG states of the calling process are restored afterwards, so a
    data pipeline run in the main process (``num_workers=0``) does not
    change the draws of the model.

    Args:
        seed (int): A seed in ``[0, 2**32)``.
    """
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch_state = torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.random.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)


class SeededIndex(int):
    """A dataset index that carries the seed of its data pipeline.

    It is an ``int`` everywhere (indexing, arithmetic, pickling to
    DataLoader workers); datasets that know it (mmzoe's depth datasets) run
    their pipeline under :func:`seeded_rng` with :attr:`seed`.

    Args:
        index (int): The dataset index.
        seed (int): The pipeline seed.
    """

    seed: int

    def __new__(cls, index: int, seed: int) -> 'SeededIndex':
        obj = super().__new__(cls, index)
        obj.seed = int(seed)
        return obj

    def __reduce__(self):
        return (SeededIndex, (int(self), self.seed))
