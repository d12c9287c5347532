"""The demo's training is a function of its seed: two runs of the demo's
loop (MMEngine's IterBasedTrainLoop, InfiniteSampler, the demo's random flip
and colour augmentation, num_workers=0) end with bit-identical weights
(tiny config, 3 iterations each)."""
import logging
import os.path as osp

import torch
from mmengine.config import Config

import mmzoe  # noqa: F401

from zoe_testing import REPO, load_module, make_tiny_nyu

CONFIG = osp.join(REPO, 'tests', 'configs', 'zoe_tiny_nyu.py')
DEMO_CONFIG = osp.join(
    REPO, 'configs', 'demo',
    'zoedepth_resnet18s-segdistill_1xb8-1200it_synthetic-nyu-128.py')


def _train(data_root: str, work_dir: str, name: str, seed: int) -> dict:
    demo = load_module('mmzoe_demo_det', osp.join(REPO, 'tools', 'demo.py'))
    cfg = Config.fromfile(CONFIG)
    demo_cfg = Config.fromfile(DEMO_CONFIG)
    cfg.train_dataloader.sampler = demo_cfg.train_dataloader.sampler
    cfg.train_dataloader.dataset.pipeline = demo_cfg.train_pipeline
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = data_root
    cfg.train_cfg.max_iters = 3
    cfg.default_hooks.checkpoint.interval = 3
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    cfg.visualizer.name = name
    runner = demo.quiet_runner_class().from_cfg(cfg)
    runner.train()
    for handler in list(runner.logger.handlers):  # no open log file left
        if isinstance(handler, logging.FileHandler):
            handler.close()
            runner.logger.removeHandler(handler)
    return {k: v.detach().clone() for k, v in
            runner.model.state_dict().items()}


def test_two_runs_same_weights(tmp_path):
    make_tiny_nyu(str(tmp_path / 'tiny_nyu.mat'), num=4, height=32, width=40)
    first = _train(str(tmp_path), str(tmp_path / 'a'), 'demo_det_a', 0)
    second = _train(str(tmp_path), str(tmp_path / 'b'), 'demo_det_b', 0)
    other_seed = _train(str(tmp_path), str(tmp_path / 'c'), 'demo_det_c', 1)
    assert first.keys() == second.keys()
    differ = [k for k in first if not torch.equal(first[k], second[k])]
    assert not differ, differ
    # the comparison sees a change of seed (initialisation and draws)
    assert any(not torch.equal(first[k], other_seed[k]) for k in first)
