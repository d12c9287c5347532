"""The report's seg-distill recipe on a Depth Anything V2 core, shrunk.

``configs/depth_anything/zoe_segdistill_da2-vits_nyu-392x518.py`` with its
model swapped for the tiny Depth Anything model of
``tests/configs/segdistill_da_tiny.py`` (same parts: DINOv2 backbone,
reassemble + DPT neck, metric head, U-Net branch) and a tiny generated NYU
``.mat``: it trains one epoch with validation every quarter epoch, keeps the
best checkpoint by abs_rel, and the test loop evaluates that checkpoint, all
in this process.
"""
import glob
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine import Config

from zoe_testing import REPO, TESTS

HERE = TESTS
RECIPE = osp.join(REPO, 'configs', 'depth_anything',
                  'zoe_segdistill_da2-vits_nyu-392x518.py')


@pytest.fixture(scope='module')
def tiny_nyu(tmp_path_factory) -> str:
    spec = importlib.util.spec_from_file_location(
        'make_tiny_nyu', osp.join(HERE, 'configs', 'make_tiny_nyu.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = str(tmp_path_factory.mktemp('tiny_nyu_da'))
    module.make_tiny_nyu(osp.join(root, 'nyu.mat'), num=5, height=48,
                         width=64)
    return root


def _cfg(data_root: str, work_dir: str, name: str) -> Config:
    cfg = Config.fromfile(RECIPE)
    tiny = Config.fromfile(osp.join(HERE, 'configs', 'segdistill_da_tiny.py'))
    cfg.model = tiny.model
    cfg.model.core_checkpoint = None
    cfg.train_cfg.max_epochs = 1
    for sched in cfg.param_scheduler:
        sched.end = 1
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.data_root = data_root
        loader.dataset.ann_file = 'nyu.mat'
        loader.dataset.num_val = None
    cfg.train_dataloader.batch_size = 1
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackSegInputs')]
    cfg.val_evaluator = cfg.test_evaluator = dict(
        type='ZoeDepthMetric', crop=None, min_depth=1e-3, max_depth=10.0)
    cfg.default_hooks.logger.interval = 1
    # no RGB/depth panels (their hook has its own tests): 5 validations
    cfg.default_hooks.visualization = dict(
        type='ZoeDepthPanelHook', draw=False)
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    return cfg


def test_da2_segdistill_recipe_trains_validates_and_tests(tiny_nyu, tmp_path):
    from mmzoe.engine.runner import ZoeRunner
    work_dir = str(tmp_path / 'run')
    runner = ZoeRunner.from_cfg(_cfg(tiny_nyu, work_dir, 'da_recipe_train'))
    before = runner.model.backbone.model.blocks[0].attn.qkv.weight.clone()
    runner.train()
    assert runner.iter == 4  # 5 frames, 80/20 split, batch 1
    after = runner.model.backbone.model.blocks[0].attn.qkv.weight
    assert not torch.equal(before, after)  # the encoder is trained
    # upstream Depth Anything's lr factors: encoder, pos_embed and DPT head
    # at lr / 50, heads at lr (OneCycle scales every group alike)
    groups = {g['name']: g for g in runner.optim_wrapper.optimizer.param_groups}
    assert set(groups) == {'encoder', 'pos_enc', 'decoder', 'head'}
    assert [p.shape for p in groups['pos_enc']['params']] == [
        runner.model.backbone.model.pos_embed.shape]
    for part in ('encoder', 'pos_enc', 'decoder'):
        assert groups[part]['lr'] == pytest.approx(groups['head']['lr'] / 50)
    logs = runner.message_hub.log_scalars
    for key in ('train/decode.loss_silog', 'train/aux.loss_dice',
                'train/aux.loss_focal', 'val/abs_rel'):
        assert key in logs, key
    assert torch.isfinite(torch.tensor(logs['train/loss'].current()))
    best = glob.glob(osp.join(work_dir, 'best_abs_rel_*.pth'))
    assert len(best) == 1, best

    cfg = _cfg(tiny_nyu, str(tmp_path / 'test'), 'da_recipe_test')
    cfg.load_from = best[0]
    metrics = ZoeRunner.from_cfg(cfg).test()
    for key in ('a1', 'abs_rel', 'rmse', 'log_10', 'silog'):
        assert key in metrics and metrics[key] == metrics[key], key
