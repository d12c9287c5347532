"""Bad input gets one clear line: config errors, checkpoints that do not fit
the model, an evaluation set without valid pixels, image rules.

The tools run in this process (``main(argv)`` of ``tools/train.py`` /
``tools/test.py``) on the tiny model and a tiny generated NYU ``.mat``.
"""
import importlib.util
import os.path as osp
import re
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

import mmzoe  # noqa: F401
from mmzoe.apis import ImageLoadError, load_rgb_image
from mmzoe.datasets import ZoeDepthFolderDataset
from mmzoe.datasets.utils import read_rgb
from mmzoe.registry import MODELS

from zoe_testing import REPO

CONFIG = osp.join(REPO, 'tests', 'configs', 'zoe_tiny_nyu.py')
SEG_CONFIG = osp.join(REPO, 'tests', 'configs', 'segdistill_tiny.py')


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(
        f'tool_{name}', osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _make_mat(path: str, zero_depth: bool = False) -> None:
    spec = importlib.util.spec_from_file_location(
        'make_tiny_nyu', osp.join(REPO, 'tests', 'configs',
                                  'make_tiny_nyu.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_tiny_nyu(path, num=2, height=48, width=64)
    if zero_depth:
        from mmzoe.datasets.utils import write_nyu_labeled_mat
        images = np.zeros((2, 48, 64, 3), np.uint8)
        depths = np.zeros((2, 48, 64), np.float32)
        labels = np.zeros((2, 48, 64), np.uint16)
        write_nyu_labeled_mat(path, images, depths, labels)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('tiny_nyu'))
    _make_mat(osp.join(root, 'tiny_nyu.mat'))
    return root


def _data_opts(root: str) -> list:
    return [f'{s}_dataloader.dataset.data_root={root}'
            for s in ('train', 'val', 'test')]


def _tiny_model(config: str = CONFIG, **decode_head):
    init_default_scope('mmzoe')
    cfg = Config.fromfile(config)
    cfg.model.decode_head.update(decode_head)
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def good_ckpt(tmp_path_factory) -> str:
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    torch.save(dict(state_dict=_tiny_model().state_dict()), path)
    return path


def _main(module, argv: list):
    try:
        module.main(argv)
    except SystemExit as e:
        return e.code
    return 0


def _run(tool: str, argv: list, capsys, monkeypatch):
    """Run a tool's main in-process: (exit code, stderr lines)."""
    monkeypatch.delenv('MMZOE_TRACEBACK', raising=False)
    module = _load_tool(tool)
    capsys.readouterr()
    # Library warnings (printed once per process, so depending on the tests
    # that ran before) would add lines to stderr; the tools' own line is
    # what is checked.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        code = _main(module, argv)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    return code, err


def _one_line(code, err, *needles) -> str:
    assert code == 2, (code, err)
    assert len(err) == 1, err
    assert 'Traceback' not in err[0]
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


# ---------------------------------------------------------------- row 12
@pytest.mark.parametrize('option, needles', [
    ('param_scheduler.0.type=ZoeNoSuchLR',
     ('"ZoeNoSuchLR"', 'parameter scheduler')),
    ('optim_wrapper.constructor=ZoeNoSuchConstructor',
     ('"ZoeNoSuchConstructor"', 'optimizer wrapper constructor')),
    ('model.decode_head.n_binz=3', ('ZoeDepthHead', '"n_binz"')),
    ('train_dataloader.dataset.splitt=all',
     ('NYUv2LabeledDataset', '"splitt"')),
    ('optim_wrapper.optimizer.lrr=0.1', ('AdamW', '"lrr"')),
])
def test_train_config_errors_are_one_line(option, needles, data_root,
                                          tmp_path, capsys, monkeypatch):
    code, err = _run('train', [
        CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
        *_data_opts(data_root), 'train_cfg.max_iters=1', option
    ], capsys, monkeypatch)
    line = _one_line(code, err, *needles)
    assert line.startswith('tools/train.py: error:')


def test_config_syntax_error_is_one_line(tmp_path, good_ckpt, capsys,
                                         monkeypatch):
    bad = tmp_path / 'broken_cfg.py'
    bad.write_text("_base_ = ['x.py']\nmodel = dict(type='A'\n")
    for tool, argv in (('train', [str(bad)]),
                       ('test', [str(bad), good_ckpt])):
        code, err = _run(tool, argv, capsys, monkeypatch)
        _one_line(code, err, str(bad), 'SyntaxError', f'tools/{tool}.py')


def test_test_tool_unknown_type_with_space_in_registry(
        data_root, good_ckpt, tmp_path, capsys, monkeypatch):
    code, err = _run('test', [
        CONFIG, good_ckpt, '--work-dir', str(tmp_path), '--cfg-options',
        *_data_opts(data_root), 'test_dataloader.sampler.type=ZoeNoSampler'
    ], capsys, monkeypatch)
    _one_line(code, err, '"ZoeNoSampler"', 'registry "mmzoe::data sampler"')


# ---------------------------------------------------------------- row 6
def test_test_tool_refuses_checkpoint_of_another_model(
        data_root, tmp_path, capsys, monkeypatch):
    other = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict=_tiny_model(n_bins=8).state_dict()), other)
    empty = str(tmp_path / 'empty.pth')
    torch.save(dict(state_dict={}), empty)
    core = str(tmp_path / 'core_only.pth')
    torch.save(dict(state_dict={
        k: v for k, v in _tiny_model().state_dict().items()
        if not k.startswith('decode_head.')}), core)
    for ckpt, needle in ((other, 'shape mismatch'), (empty, 'missing keys'),
                         (core, 'decode_head.')):
        code, err = _run('test', [
            CONFIG, ckpt, '--work-dir', str(tmp_path / 'w'),
            '--cfg-options', *_data_opts(data_root)
        ], capsys, monkeypatch)
        _one_line(code, err, ckpt, needle, 'allow_partial_load=True')
    # a deliberate partial load is allowed
    code, err = _run('test', [
        CONFIG, core, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
        *_data_opts(data_root), 'allow_partial_load=True'
    ], capsys, monkeypatch)
    assert code == 0, err


def test_load_from_refuses_checkpoint_that_does_not_cover_model(
        data_root, tmp_path, capsys, monkeypatch):
    empty = str(tmp_path / 'empty.pth')
    torch.save(dict(state_dict={}), empty)
    code, err = _run('train', [
        CONFIG, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
        *_data_opts(data_root), f'load_from={empty}', 'train_cfg.max_iters=1'
    ], capsys, monkeypatch)
    _one_line(code, err, empty, 'missing keys')


def test_published_checkpoint_without_seg_branch_is_accepted():
    from mmzoe.utils.checkpoint_coverage import (
        CheckpointMismatchError, check_checkpoint_covers_model)
    torch.manual_seed(0)
    model = _tiny_model(SEG_CONFIG)
    full = model.state_dict()
    assert any(k.startswith('auxiliary_head.') for k in full)
    spec = importlib.util.spec_from_file_location(
        'publish_model', osp.join(REPO, 'tools', 'publish_model.py'))
    publish = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(publish)
    stripped = publish.strip_checkpoint(dict(state_dict=full))['state_dict']
    assert not any(k.startswith('auxiliary_head.') for k in stripped)
    check_checkpoint_covers_model(model, stripped, 'published.pth')
    core_only = {k: v for k, v in stripped.items()
                 if not k.startswith('decode_head.')}
    with pytest.raises(CheckpointMismatchError, match='decode_head'):
        check_checkpoint_covers_model(model, core_only, 'core.pth')


# ---------------------------------------------------------------- row 10
def test_evaluation_without_valid_pixel_exits_non_zero(
        good_ckpt, tmp_path, capsys, monkeypatch):
    root = str(tmp_path / 'zero')
    _make_mat(osp.join(root, 'tiny_nyu.mat'), zero_depth=True)
    code, err = _run('test', [
        CONFIG, good_ckpt, '--work-dir', str(tmp_path / 'w'),
        '--cfg-options', *_data_opts(root)
    ], capsys, monkeypatch)
    _one_line(code, err, 'ZoeDepthMetric', 'none of the 2',
              'valid ground-truth pixel')


# ---------------------------------------------------------------- row 14
def _write(path, array):
    import cv2
    assert cv2.imwrite(str(path), array)
    return str(path)


def test_one_image_rule_for_datasets_and_inference(tmp_path):
    rgb16 = _write(tmp_path / 'rgb16.png',
                   np.full((8, 8, 3), 40000, np.uint16))
    gray = _write(tmp_path / 'gray.png', np.full((8, 8), 90, np.uint8))
    for path, pattern in ((rgb16, '16-bit colour'), (gray, 'grayscale')):
        for read in (load_rgb_image, read_rgb):
            with pytest.raises(ImageLoadError,
                               match=re.escape(path) + '.*' + pattern):
                read(path)
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), np.uint8)
    ok = str(tmp_path / 'ok.png')
    Image.fromarray(rgb).save(ok)
    for read in (load_rgb_image, read_rgb):
        out = read(ok)
        assert np.array_equal(out, rgb) and out.flags.writeable


def test_folder_dataset_rejects_grayscale_like_infer(tmp_path):
    root = tmp_path / 'custom'
    (root / 'images').mkdir(parents=True)
    (root / 'depths').mkdir()
    _write(root / 'images' / 'a.jpg', np.full((8, 8), 90, np.uint8))
    _write(root / 'depths' / 'a.png', np.full((8, 8), 1000, np.uint16))
    ds = ZoeDepthFolderDataset(
        data_root=str(root),
        data_prefix=dict(img_path='images', depth_map_path='depths'))
    with pytest.raises(ImageLoadError, match=r'a\.jpg.*grayscale'):
        ds.load_sample(ds.get_data_info(0))
