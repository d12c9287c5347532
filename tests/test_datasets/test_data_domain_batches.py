"""ZoeRoundRobinBatchSampler (single-domain batches in turn) and the
KITTI / NK configs (parsed only: the full-size models are not built here)."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.dataset import DefaultSampler
from torch.utils.data import ConcatDataset

import mmzoe  # noqa: F401
from mmzoe.datasets import ZoeRoundRobinBatchSampler

ROOT = Path(__file__).resolve().parents[2]


class _Seeded(DefaultSampler):
    """A DefaultSampler with the resume hook of mmzoe's loop wrapper."""
    skip = 0

    def __iter__(self):
        return iter(list(super().__iter__())[self.skip:])


def _concat(n_a, n_b):
    return ConcatDataset([list(range(n_a)), list(range(n_b))])


def test_batches_are_single_domain_and_alternate():
    ds = _concat(10, 4)  # indices 0..9 = part 0, 10..13 = part 1
    sampler = DefaultSampler(ds, shuffle=True, seed=0)
    bs = ZoeRoundRobinBatchSampler(sampler, batch_size=3)
    batches = list(bs)
    parts = [0 if all(i < 10 for i in b) else 1 for b in batches]
    for b, p in zip(batches, parts):
        assert all((i < 10) == (p == 0) for i in b)  # one domain per batch
    assert parts == [0, 1] * 4  # 4 batches of part 0, part 1 repeats
    assert len(bs) == len(batches) == 8
    seen = sorted(i for b, p in zip(batches, parts) if p == 0 for i in b)
    assert seen == list(range(10))  # the longest part is seen exactly once
    assert set(i for b in batches for i in b if i >= 10) == {10, 11, 12, 13}
    drop = ZoeRoundRobinBatchSampler(sampler, batch_size=3, drop_last=True)
    assert all(len(b) == 3 for b in drop) and len(drop) == 6


def test_resume_skips_whole_batches():
    ds = _concat(6, 6)
    sampler = _Seeded(ds, shuffle=True, seed=1)
    bs = ZoeRoundRobinBatchSampler(sampler, batch_size=2)
    full = list(bs)
    sampler.skip = 3 * 2  # the loop skips 3 batches' worth of samples
    assert list(bs) == full[3:]
    assert sampler.skip == 6


def test_needs_a_concat_dataset():
    with pytest.raises(TypeError, match='ConcatDataset'):
        ZoeRoundRobinBatchSampler(DefaultSampler(list(range(4))), 2)


@pytest.mark.parametrize('name', [
    'zoedepth_beitl384_eval_kitti-eigen', 'zoedepth_beitl384_kitti-eigen',
    'zoedepth-nk_beitl384_nyu-kitti', 'zoedepth-nk_beitl384_eval_kitti-eigen'
])
def test_configs_parse(name):
    cfg = Config.fromfile(str(ROOT / 'configs/zoedepth' / f'{name}.py'))
    head = cfg.model.decode_head
    if 'nk' in name.split('_')[0]:
        assert cfg.model.type == 'ZoeDepthNKEstimator'
        assert [d['max_depth'] for d in head.domains] == [10.0, 80.0]
    else:
        assert head.bin_centers_type == 'normed' and head.max_depth == 80
        assert cfg.model.data_preprocessor.size == (384, 768)
        # evaluation and training squash (upstream's eval / train modes)
        assert cfg.model.data_preprocessor.keep_ratio is False
    if name.endswith('nyu-kitti'):
        loader = cfg.train_dataloader
        assert loader.batch_sampler.type == 'ZoeRoundRobinBatchSampler'
        doms = [d.pipeline[0].domain for d in loader.dataset.datasets]
        assert doms == ['nyu', 'kitti']
        assert cfg.optim_wrapper.optimizer.lr == pytest.approx(2.512e-4)
    if 'eval_kitti' in name:
        assert cfg.test_evaluator.crop == 'garg'
        assert cfg.test_evaluator.max_depth == 80.0
        assert cfg.model.test_cfg.flip
