"""Divergence is loud: a NaN gradient/loss skips the step and then stops the
run (no NaN checkpoint); a NaN prediction at test/inference time is an error
naming the image."""
import glob
import importlib.util
import os.path as osp
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

import mmzoe  # noqa: F401
from mmzoe.apis import inference_depth, init_model
from mmzoe.registry import MODELS

from zoe_testing import REPO

CONFIG = osp.join(REPO, 'tests', 'configs', 'zoe_tiny_nyu.py')


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('tiny_nyu'))
    _load(osp.join(REPO, 'tests', 'configs', 'make_tiny_nyu.py'),
          'make_tiny_nyu').make_tiny_nyu(
              osp.join(root, 'tiny_nyu.mat'), num=4, height=48, width=64)
    return root


def _data_opts(root: str) -> list:
    return [f'{s}_dataloader.dataset.data_root={root}'
            for s in ('train', 'val', 'test')]


def _main(module, argv: list):
    try:
        return module.main(argv) or 0
    except SystemExit as e:
        return e.code


def _run(tool: str, argv: list, capsys, monkeypatch):
    monkeypatch.delenv('MMZOE_TRACEBACK', raising=False)
    module = _load(osp.join(REPO, 'tools', f'{tool}.py'), f'tool_{tool}')
    capsys.readouterr()
    # Library warnings (printed once per process, so depending on the tests
    # that ran before) would add lines to stderr; the tools' own line is
    # what is checked.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        code = _main(module, argv)
    out = capsys.readouterr()
    err = [ln for ln in out.err.splitlines() if ln.strip()]
    return code, err, out.out


@pytest.fixture(scope='module')
def nan_ckpt(tmp_path_factory) -> str:
    """The tiny model with NaN metric-head weights (a diverged run)."""
    init_default_scope('mmzoe')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model)
    state = model.state_dict()
    for key, value in state.items():
        if key.startswith('decode_head.') and value.is_floating_point():
            value.fill_(float('nan'))
    path = str(tmp_path_factory.mktemp('nan') / 'diverged.pth')
    torch.save(dict(state_dict=state), path)
    return path


def test_diverged_training_stops_and_keeps_finite_checkpoints(
        data_root, tmp_path, capsys, monkeypatch):
    work_dir = str(tmp_path / 'w')
    code, err, out = _run('train', [
        CONFIG, '--work-dir', work_dir, '--cfg-options',
        *_data_opts(data_root), 'optim_wrapper.optimizer.lr=1e4',
        'train_cfg.max_iters=8',
        'custom_hooks.0.max_skipped_steps=2'
    ], capsys, monkeypatch)
    assert code == 1, (code, err)
    assert len(err) == 1 and 'training diverged' in err[0], err
    assert 'in 3 iterations in a row' in err[0]
    assert 'ZoeDivergenceHook: iteration' in out
    ckpts = glob.glob(osp.join(work_dir, 'iter_*.pth'))
    assert ckpts, 'a checkpoint before the divergence is expected'
    for path in ckpts:
        ckpt = torch.load(path, weights_only=True, map_location='cpu')
        for key, value in ckpt['state_dict'].items():
            if value.is_floating_point():
                assert torch.isfinite(value).all(), (path, key)


class _Toy(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 1)
        self.bn = torch.nn.BatchNorm1d(1)

    def forward(self, x):
        return self.bn(self.lin(x))


class _Runner:
    """What the hook uses of a runner."""

    def __init__(self, model, optim_wrapper):
        from mmengine.logging import MessageHub
        self.model = model
        self.optim_wrapper = optim_wrapper
        self.iter = 0
        self.message_hub = MessageHub.get_instance('zoe_divergence_test')


def test_hook_skips_non_finite_steps_and_restores_buffers():
    from mmengine.optim import OptimWrapper

    from mmzoe.engine.hooks import ZoeDivergenceHook
    from mmzoe.utils.tool_errors import NonFiniteError
    torch.manual_seed(0)
    model = _Toy()
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=0.1))
    runner = _Runner(model, wrapper)
    hook = ZoeDivergenceHook(max_skipped_steps=1)
    hook.before_train(runner)

    def step(x):
        hook.before_train_iter(runner, runner.iter)
        loss = model(x).mean()
        wrapper.update_params(loss)
        hook.after_train_iter(runner, runner.iter, outputs=dict(loss=loss))
        runner.iter += 1

    step(torch.randn(4, 2))  # a good step changes the weights
    good = {k: v.clone() for k, v in model.state_dict().items()}
    bad = torch.randn(4, 2)
    bad[0, 0] = float('nan')
    step(bad)  # skipped: weights, Adam state and BN statistics unchanged
    for key, value in model.state_dict().items():
        assert torch.equal(value, good[key]), key
    assert wrapper.optimizer.state[model.lin.weight]['step'] == 1
    step(torch.randn(4, 2))  # a good step resets the count
    with pytest.raises(NonFiniteError):
        step(bad)
        step(bad)
    hook.after_train(runner)


def test_hook_refuses_to_save_a_nan_checkpoint():
    from mmzoe.engine.hooks import ZoeDivergenceHook
    from mmzoe.utils.tool_errors import NonFiniteError
    hook = ZoeDivergenceHook()
    runner = _Runner(_Toy(), None)
    state = dict(w=torch.tensor([1.0, float('nan')]), n=torch.tensor(3))
    with pytest.raises(NonFiniteError, match='refusing to save'):
        hook.before_save_checkpoint(runner, dict(state_dict=state))
    hook.before_save_checkpoint(
        runner, dict(state_dict=dict(w=torch.ones(2))))


def test_nan_prediction_is_an_error_naming_the_image(
        nan_ckpt, data_root, tmp_path, capsys, monkeypatch):
    # tools/test.py
    code, err, _ = _run('test', [
        CONFIG, nan_ckpt, '--work-dir', str(tmp_path / 't'),
        '--cfg-options', *_data_opts(data_root)
    ], capsys, monkeypatch)
    assert code == 1 and len(err) == 1, (code, err)
    assert 'tiny_nyu.mat' in err[0] and 'NaN' in err[0]
    # inference_depth
    image = str(tmp_path / 'room.png')
    Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(image)
    model = init_model(CONFIG, nan_ckpt)
    with pytest.raises(RuntimeError, match='room.png.*NaN'):
        inference_depth(model, image)
    with pytest.raises(RuntimeError, match='image 0 of the list'):
        inference_depth(model, [np.zeros((48, 64, 3), np.uint8)] * 2)
    # tools/infer.py: the image is named, nothing is written for it
    out_dir = str(tmp_path / 'infer')
    code, err, _ = _run('infer', [CONFIG, nan_ckpt, image, '--out', out_dir],
                        capsys, monkeypatch)
    assert code == 1
    assert any(ln.startswith(f'error: {image}: the predicted depth has')
               for ln in err), err
    assert not glob.glob(osp.join(out_dir, '*.npy'))
