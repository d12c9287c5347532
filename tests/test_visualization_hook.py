"""Tests of the panel path: ZoeDepthPanelHook feeding ZoeDepthVisualizer."""
import os
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import mmzoe  # noqa: F401
from mmzoe.apis import init_model
from mmzoe.registry import HOOKS, VISUALIZERS
from mmzoe.visualization import colorize_depth, colorize_relative

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = osp.join(ROOT, 'configs', '_base_', 'models', 'zoedepth_tiny.py')


def _batch(n, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    inputs, samples = [], []
    for i in range(n):
        inputs.append(torch.from_numpy(
            rng.integers(0, 256, (3, h, w), dtype=np.uint8)))
        gt = np.full((1, h, w), 1.0 + i, np.float32)
        gt[:, :, :8] = 0  # invalid strip
        sample = SegDataSample(metainfo=dict(
            ori_shape=(h, w), img_shape=(h, w), img_path=f'/x/img_{i}.png'))
        sample.gt_depth_map = PixelData(data=torch.from_numpy(gt))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _model_and_visualizer(tmp_path, name):
    with pytest.warns(UserWarning):
        model = init_model(TINY)
    vis = VISUALIZERS.build(dict(
        type='ZoeDepthVisualizer', name=name, vmax=10,
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path / 'vis')))
    return model, vis


def test_panel_hook_draws_first_n_images(tmp_path):
    model, vis = _model_and_visualizer(tmp_path, 'zoe_hook_test')
    runner = SimpleNamespace(model=model, visualizer=vis, iter=12,
                             log_dir=str(tmp_path / 'log'))
    hook = HOOKS.build(dict(type='ZoeDepthPanelHook', num_images=3))
    hook.before_val_epoch(runner)
    batches = [_batch(2, seed=0), _batch(2, seed=1)]
    all_outputs = []
    for idx, batch in enumerate(batches):
        with torch.no_grad():
            outputs = model.val_step(batch)
        hook.after_val_iter(runner, idx, batch, outputs)
        all_outputs.append(outputs)
    folder = tmp_path / 'log' / 'depth_panels' / 'val_iter_12'
    files = sorted(os.listdir(folder))
    assert files == ['00_img_0.png', '01_img_1.png', '02_img_0.png']
    panel = cv2.imread(str(folder / '01_img_1.png'))[..., ::-1]
    # RGB | relative | GT | prediction (+ colour bar): 4 tiles of 64 px
    assert panel.shape[1] > 4 * 64
    body = panel[-48:]
    rgb = batches[0]['inputs'][1].permute(1, 2, 0).numpy()
    assert np.array_equal(body[:, :64], rgb)
    gt = batches[0]['data_samples'][1].gt_depth_map.data[0].numpy()
    gt_tile = body[:, 2 * 68:2 * 68 + 64]  # 4 px separators
    assert np.array_equal(gt_tile, colorize_depth(gt, 0, 10))
    # the relative tile is the pred_rel_depth of the same forward pass (the
    # hook switched test_cfg.rel_depth on), not a second model run
    assert 'pred_rel_depth' in all_outputs[0][1]
    rel = all_outputs[0][1].pred_rel_depth.data[0].numpy()
    rel_tile = body[:, 68:68 + 64]
    assert np.array_equal(
        rel_tile, colorize_relative(rel))
    # also handed to the visualizer backends
    vis_files = os.listdir(tmp_path / 'vis' / 'vis_data' / 'vis_image')
    assert len(vis_files) == 3
    # three drawn: the switch is off again (no relative depth for the rest)
    assert 'rel_depth' not in model.test_cfg
    # a new validation run starts counting again
    hook.before_val_epoch(runner)
    runner.iter = 20
    with torch.no_grad():
        outputs = model.val_step(batches[0])
    hook.after_val_iter(runner, 0, batches[0], outputs)
    assert len(os.listdir(tmp_path / 'log' / 'depth_panels' /
                          'val_iter_20')) == 2


class _TestOnlyRunner:
    """A test-only runner: mmengine's ``runner.iter`` would build the
    training loop (and its data set) there."""

    def __init__(self, model, visualizer, log_dir):
        self.model, self.visualizer, self.log_dir = model, visualizer, log_dir

    @property
    def iter(self):
        raise AssertionError('runner.iter read while testing')


def test_panel_hook_testing_needs_no_training_loop(tmp_path):
    model, vis = _model_and_visualizer(tmp_path, 'zoe_hook_test_only')
    runner = _TestOnlyRunner(model, vis, str(tmp_path / 'log'))
    hook = HOOKS.build(dict(type='ZoeDepthPanelHook', num_images=2,
                            with_relative=False))
    hook.before_test_epoch(runner)
    batch = _batch(3)
    with torch.no_grad():
        outputs = model.test_step(batch)
    hook.after_test_iter(runner, 0, batch, outputs)
    files = sorted(os.listdir(tmp_path / 'log' / 'depth_panels' / 'test'))
    assert files == ['00_img_0.png', '01_img_1.png']


def test_panel_hook_arguments():
    with pytest.raises(ValueError):
        VISUALIZERS.build(dict(type='ZoeDepthVisualizer',
                               name='zoe_vis_bad', vmin=3, vmax=1))
    with pytest.raises(ValueError):
        HOOKS.build(dict(type='ZoeDepthPanelHook', num_images=-1))


def test_depth_visualizer_fixed_range_panel(tmp_path):
    from mmzoe.registry import VISUALIZERS
    vis = VISUALIZERS.build(
        dict(type='ZoeDepthVisualizer', name='zoe_vis_test', vmax=5.0,
             vis_backends=[dict(type='LocalVisBackend')],
             save_dir=str(tmp_path)))
    h, w = 30, 40
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), np.uint8)
    sample = SegDataSample()
    sample.pred_depth_map = PixelData(data=torch.full((1, h, w), 2.5))
    gt = torch.full((1, h, w), 4.0)
    gt[:, :3] = 0
    sample.gt_depth_map = PixelData(data=gt)
    out = str(tmp_path / 'panel.png')
    vis.add_datasample('x', rgb, sample, out_file=out)
    panel = cv2.imread(out)[..., ::-1]
    body = panel[-h:]
    assert np.array_equal(body[:, :w], rgb)
    # RGB | GT | prediction, fixed 0..5 m range
    assert np.array_equal(body[:, w + 4:2 * w + 4],
                          colorize_depth(gt[0].numpy(), 0, 5))
    assert np.array_equal(body[:, 2 * (w + 4):2 * (w + 4) + w],
                          colorize_depth(np.full((h, w), 2.5), 0, 5))
    vis.add_datasample('y', rgb, sample, step=3)  # to the backends
    assert os.listdir(tmp_path / 'vis_data' / 'vis_image') == ['y_3.png']
