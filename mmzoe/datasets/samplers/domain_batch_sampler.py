"""Single-domain batches taken in turn from the parts of a ConcatDataset
(ZoeDepth-NK's mixed NYU + KITTI training)."""
import bisect
from typing import Iterator, List, Sequence, Tuple

from torch.utils.data import BatchSampler, Sampler

from mmzoe.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class ZoeRoundRobinBatchSampler(BatchSampler):
    """Batches that each come from one part of a concatenated dataset, the
    parts taking turns (upstream ZoeDepth-NK's "repetitive round robin").

    The wrapped sampler (e.g. a shuffling ``DefaultSampler`` over a
    ``ConcatDataset`` of NYU and KITTI) gives the epoch's indices; they are
    split by the part they fall in (order kept) and cut into batches; then
    the parts yield one batch each in turn, part 0 first. A part that runs
    out of batches starts its list again, until the part with the most
    batches has yielded all of its own: an epoch has ``num_parts *
    max(batches per part)`` batches (upstream repeats the shorter loader the
    same way). Every batch is from one domain, as ZoeDepth-NK's trainer
    assumes, and its images have one size.

    Resuming inside an epoch (mmzoe's training loop) skips whole batches of
    this order.

    Args:
        sampler (Sampler): Sampler over the ``ConcatDataset`` (its
            ``dataset`` attribute must have ``cumulative_sizes``).
        batch_size (int): Images per batch.
        drop_last (bool): Drop each part's last incomplete batch.
            Defaults to False.
    """

    def __init__(self,
                 sampler: Sampler,
                 batch_size: int,
                 drop_last: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        dataset = getattr(sampler, 'dataset', None)
        sizes = getattr(dataset, 'cumulative_sizes', None)
        if sizes is None:
            raise TypeError(
                'ZoeRoundRobinBatchSampler needs a sampler over a '
                'ConcatDataset (dataset=dict(type=\'ConcatDataset\', '
                f'datasets=[...])), got {type(dataset).__name__}')
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)
        self.cumulative_sizes: List[int] = list(sizes)

    def _batches(self, indices: Sequence[int]) -> List[List[List[int]]]:
        parts: List[List[int]] = [[] for _ in self.cumulative_sizes]
        for idx in indices:
            parts[bisect.bisect_right(self.cumulative_sizes,
                                      int(idx))].append(idx)
        out = []
        bs = self.batch_size
        for part in parts:
            batches = [part[i:i + bs] for i in range(0, len(part), bs)]
            if self.drop_last and batches and len(batches[-1]) < bs:
                batches.pop()
            out.append(batches)
        return out

    def _all_indices(self) -> Tuple[List[int], int]:
        # mmzoe's loop wraps the sampler to skip a resumed prefix of
        # *samples*; this sampler skips whole batches of its own order
        skip = getattr(self.sampler, 'skip', 0)
        if skip:
            self.sampler.skip = 0
        try:
            return list(self.sampler), skip
        finally:
            if skip:
                self.sampler.skip = skip

    def __iter__(self) -> Iterator[List[int]]:
        indices, skip = self._all_indices()
        batches = [b for b in self._batches(indices) if b]
        if not batches:
            return
        longest = max(len(b) for b in batches)
        skip_batches = skip // self.batch_size
        n = 0
        for step in range(longest):
            for part in batches:
                if n >= skip_batches:
                    yield part[step % len(part)]
                n += 1

    def __len__(self) -> int:
        indices, _ = self._all_indices()
        counts = [len(b) for b in self._batches(indices) if b]
        return len(counts) * max(counts) if counts else 0
