"""tools/demo.py's console: progress lines only, MMEngine's dumps in the
log file, no warnings (tiny config, 4 iterations)."""
import glob
import importlib.util
import os.path as osp
import warnings

from mmengine.config import Config

import mmzoe  # noqa: F401

from zoe_testing import REPO

CONFIG = osp.join(REPO, 'tests', 'configs', 'zoe_tiny_nyu.py')


def _load(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quiet_runner_console_and_log_file(tmp_path, capsys):
    make = _load('make_tiny_nyu', osp.join(REPO, 'tests', 'configs',
                                           'make_tiny_nyu.py'))
    make.make_tiny_nyu(str(tmp_path / 'tiny_nyu.mat'), num=4, height=32,
                       width=40)
    demo = _load('mmzoe_demo', osp.join(REPO, 'tools', 'demo.py'))
    cfg = Config.fromfile(CONFIG)
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = str(tmp_path)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = 'demo_quiet'
    cfg.train_cfg.val_interval = 100
    # as the demo config (a DefaultSampler warns when it restarts)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        runner = demo.quiet_runner_class().from_cfg(cfg)
        runner.register_hook(demo.progress_hook(2))
        runner.train()
    out, err = capsys.readouterr()
    assert not caught, [f'{w.filename}:{w.lineno}: {w.message}'
                        for w in caught]
    lines = out.splitlines()
    assert [ln.split('  ')[0] for ln in lines] == [
        '[demo] train 2/4', '[demo] train 4/4'], out
    assert all(' loss ' in ln and ' eta ' in ln for ln in lines)
    assert 'WARNING' not in out + err and 'Warning' not in err, out + err
    logs = glob.glob(osp.join(cfg.work_dir, '*', '*.log'))
    assert len(logs) == 1
    with open(logs[0], encoding='utf-8') as f:
        text = f.read()
    for part in ('System environment', 'Config:', 'Iter(train) [4/4]',
                 'before_train:'):
        assert part in text, part
