"""What the tools share: mmzoe.utils.tool_setup (train.py / test.py) and
load_tool_config's one-line errors in print_config.py / browse_dataset.py."""
import argparse
import os.path as osp

import pytest
from mmengine.config import Config

from mmzoe.utils.tool_setup import apply_runner_args

from zoe_testing import CONFIG, REPO, load_module


def _args(**kw):
    base = dict(config='configs/x/my_cfg.py', work_dir=None, launcher='none')
    base.update(kw)
    return argparse.Namespace(**base)


def test_apply_runner_args_work_dir_priority_and_scope():
    cfg = apply_runner_args(Config(dict(model=dict())), _args())
    assert cfg.work_dir == osp.join('./work_dirs', 'my_cfg')
    assert cfg.default_scope == 'mmzoe' and cfg.launcher == 'none'
    cfg = apply_runner_args(Config(dict(work_dir='from_cfg',
                                        default_scope='mmseg')),
                            _args(launcher='pytorch'))
    assert cfg.work_dir == 'from_cfg' and cfg.default_scope == 'mmseg'
    assert cfg.launcher == 'pytorch'
    cfg = apply_runner_args(Config(dict(work_dir='from_cfg')),
                            _args(work_dir='cli'))
    assert cfg.work_dir == 'cli'


def _main(tool, argv, capsys, monkeypatch):
    monkeypatch.delenv('MMZOE_TRACEBACK', raising=False)
    module = load_module(osp.basename(tool)[:-3],
                         osp.join(REPO, 'tools', tool))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        module.main(argv)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    return exc.value.code, err


@pytest.mark.parametrize('tool', ['misc/print_config.py',
                                  'misc/browse_dataset.py'])
def test_misc_tools_missing_config_one_line(tool, tmp_path, capsys,
                                            monkeypatch):
    missing = str(tmp_path / 'nope.py')
    argv = [missing] + (['--output-dir', str(tmp_path)]
                        if 'browse' in tool else [])
    code, err = _main(tool, argv, capsys, monkeypatch)
    assert code == 2
    assert err == [f'tools/{tool}: error: config file not found: {missing}']


def test_misc_tools_broken_config_and_missing_split(tmp_path, capsys,
                                                    monkeypatch):
    broken = tmp_path / 'broken.py'
    broken.write_text('model = dict(\n')
    code, err = _main('misc/print_config.py', [str(broken)], capsys,
                      monkeypatch)
    assert code == 2 and len(err) == 1
    assert f'{broken}: cannot load the config' in err[0]
    # a split the config has no dataloader for: one line, no traceback
    no_val = tmp_path / 'no_val.py'
    no_val.write_text(f'_base_ = [{CONFIG!r}]\nval_dataloader = None\n')
    code, err = _main('misc/browse_dataset.py',
                      [str(no_val), '--split', 'val', '--output-dir',
                       str(tmp_path / 'out')], capsys, monkeypatch)
    assert code == 2 and len(err) == 1, err
    assert 'the config has no "val_dataloader"' in err[0]
