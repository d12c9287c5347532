"""mmzoe as an OpenMMLab plugin: registry scopes, quiet import, checkpoints.

Checkpoint tests: MMEngine 0.10.7 checkpoints must load with
``torch.load(weights_only=True)`` (the default) after ``import mmzoe``, for
``resume`` and ``load_from`` in the same process, without
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``.
"""
import importlib.util
import io
import os
import os.path as osp
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.registry import DefaultScope

import mmzoe  # noqa: F401
from mmzoe.registry import MODELS, RUNNERS, TRANSFORMS

from zoe_testing import REPO, run_code

CONFIG = osp.join(REPO, 'tests', 'configs', 'zoe_tiny_nyu.py')


def subprocess_env() -> dict:
    env = dict(os.environ)
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    env['OMP_NUM_THREADS'] = '1'
    return env


def run_python(code: str, *flags: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (nothing imported yet)."""
    env = subprocess_env()
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in env
    return subprocess.run([sys.executable, *flags, '-c', code], cwd=REPO,
                          env=env, capture_output=True, text=True,
                          timeout=300)


# --------------------------------------------------------------- registries
def test_our_names_resolve_in_mmzoe_scope():
    with DefaultScope.overwrite_default_scope('mmzoe'):
        for name in ('ZoeDepthEstimator', 'ZoeDepthHead', 'ZoeSwinV2',
                     'ZoeDPTNeck'):
            cls = MODELS.get(name)
            assert cls is not None, name
            assert cls.__module__.startswith('mmzoe.'), cls
        assert RUNNERS.get('ZoeRunner').__module__.startswith('mmzoe.')


def test_mmseg_names_resolve_through_mmzoe_scope():
    from mmseg.datasets.transforms import PackSegInputs
    from mmseg.models.segmentors import DepthEstimator
    with DefaultScope.overwrite_default_scope('mmzoe'):
        assert MODELS.get('DepthEstimator') is DepthEstimator
        assert TRANSFORMS.get('PackSegInputs') is PackSegInputs
        # and the child registry really belongs to scope mmzoe
        assert MODELS.scope == 'mmzoe'
        assert MODELS.parent.scope == 'mmseg'


def test_mmseg_config_borrows_mmzoe_parts(tmp_path):
    """A default_scope='mmseg' config with custom_imports=['mmzoe']."""
    cfg_file = tmp_path / 'mmseg_style.py'
    cfg_file.write_text(textwrap.dedent(f"""
        _base_ = [{osp.join(REPO, 'configs', '_base_', 'models',
                            'zoedepth_tiny.py')!r}]
        default_scope = 'mmseg'
        custom_imports = dict(imports=['mmzoe'], allow_failed_imports=False)
        loss = dict(type='mmzoe.ZoeSILogLoss')
        # a whole sub-tree of our parts: _scope_ switches the scope for it
        model = dict(_scope_='mmzoe')
        """))
    code = textwrap.dedent(f"""
        import sys
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        assert 'mmzoe' not in sys.modules
        cfg = Config.fromfile({str(cfg_file)!r})
        assert 'mmzoe' in sys.modules  # imported by custom_imports
        init_default_scope(cfg.default_scope)
        from mmseg.registry import MODELS
        loss = MODELS.build(cfg.loss)
        model = MODELS.build(cfg.model)
        print(type(loss).__module__, type(loss).__name__)
        print(type(model).__module__, type(model).__name__)
        print(type(model.decode_head).__name__)
        """)
    # a process without mmzoe and mmseg (forked from the warm interpreter)
    proc = run_code(code, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.split('\n')
    assert lines[0].startswith('mmzoe.') and lines[0].endswith(
        'ZoeSILogLoss')
    assert lines[1].startswith('mmzoe.') and lines[1].endswith(
        'ZoeDepthEstimator')
    assert lines[2] == 'ZoeDepthHead'


def test_import_prints_no_missing_op_warnings():
    proc = run_python('import mmzoe', '-W', 'default')
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stderr.lower()
    for word in ('mmcv.ops', 'mmcv._ext', 'mmcv-lite', 'mmcv_lite',
                 'multiscaledeformableattention', 'compiled'):
        assert word not in text, proc.stderr


# -------------------------------------------------------------- checkpoints
def _tiny_cfg(data_root: str, work_dir: str, name: str, **extra) -> Config:
    cfg = Config.fromfile(CONFIG)
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = data_root
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_interval = 100
    cfg.default_hooks.checkpoint.interval = 1
    cfg.merge_from_dict(extra)
    return cfg


@pytest.fixture(scope='module')
def tiny_nyu(tmp_path_factory) -> str:
    spec = importlib.util.spec_from_file_location(
        'make_tiny_nyu', osp.join(REPO, 'tests', 'configs',
                                  'make_tiny_nyu.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = str(tmp_path_factory.mktemp('tiny_nyu_plugin'))
    module.make_tiny_nyu(osp.join(root, 'tiny_nyu.mat'), num=4, height=32,
                         width=40)
    return root


def test_resume_and_load_from_in_same_process(tiny_nyu, tmp_path):
    from mmzoe.engine.runner import ZoeRunner
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ
    work_dir = str(tmp_path / 'run')
    runner = ZoeRunner.from_cfg(_tiny_cfg(tiny_nyu, work_dir, 'plugin_a'))
    runner.train()
    lr_after_2 = runner.optim_wrapper.get_lr()['lr'][0]
    ckpt1 = osp.join(work_dir, 'iter_1.pth')
    saved = torch.load(ckpt1, weights_only=True, map_location='cpu')
    assert isinstance(saved['message_hub']['log_scalars']['train/lr'],
                      HistoryBuffer)

    # resume from iteration 1 in the same process: runs iteration 2 again
    resumed = ZoeRunner.from_cfg(
        _tiny_cfg(tiny_nyu, str(tmp_path / 'resumed'), 'plugin_b',
                  resume=True, load_from=ckpt1))
    resumed.train()
    assert resumed.iter == 2
    assert resumed.optim_wrapper.get_lr()['lr'][0] == pytest.approx(
        lr_after_2, rel=1e-9)

    # load_from (weights only, no resume) gives exactly the saved weights
    loaded = ZoeRunner.from_cfg(
        _tiny_cfg(tiny_nyu, str(tmp_path / 'loaded'), 'plugin_c',
                  load_from=ckpt1))
    loaded.load_or_resume()
    state = loaded.model.state_dict()
    for key, value in saved['state_dict'].items():
        assert torch.equal(state[key], value), key


def test_checkpoint_needs_the_allow_list(tiny_nyu, tmp_path):
    """Without mmzoe's allow-list torch refuses MMEngine's checkpoints."""
    # build one small MMEngine checkpoint with a HistoryBuffer in it
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('plugin_allow_list')
    for i in range(3):
        hub.update_scalar('train/lr', 0.1 * (i + 1))
    path = str(tmp_path / 'hub.pth')
    torch.save(dict(message_hub=hub.state_dict(), meta=dict(iter=3)), path)
    loaded = torch.load(path, weights_only=True)  # works after import mmzoe
    assert loaded['message_hub']['log_scalars']['train/lr'].current() == \
        pytest.approx(0.3)
    code = textwrap.dedent(f"""
        import torch, mmengine.logging
        try:
            torch.load({path!r}, weights_only=True)
        except Exception as e:
            print('REFUSED', type(e).__name__, str(e).replace(chr(10), ' '))
        else:
            print('LOADED')
        """)
    # a process without mmzoe's allow-list (forked from the warm
    # interpreter, which has not imported mmzoe)
    proc = run_code(code, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'REFUSED UnpicklingError' in proc.stdout, proc.stdout
    assert 'HistoryBuffer' in proc.stdout or 'getattr' in proc.stdout \
        or 'numpy' in proc.stdout, proc.stdout


class _Evil:

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_limited_to_history_buffer_statistics():
    buf = io.BytesIO()
    torch.save({'x': _Evil()}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(buf, weights_only=True)
