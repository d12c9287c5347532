"""MMSegmentation 1.2.2's own tools and APIs on mmzoe configs.

Every test runs mmseg's unmodified entry point: the scripts shipped in the
wheel under ``mmseg/.mim/tools`` (as separate processes, forked from the
session's warm interpreter: tests/zoe_testing.py) or ``mmseg.apis`` /
``mmengine.analysis`` (in process), on the tiny config
``tests/configs/zoe_tiny_nyu.py`` and a tiny generated NYU-layout ``.mat``.
"""
import csv
import glob
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

import mmzoe  # noqa: F401
import mmseg

from zoe_testing import REPO, run

CONFIG = osp.join(REPO, 'tests', 'configs', 'zoe_tiny_nyu.py')
TINY_MODEL = osp.join(REPO, 'configs', '_base_', 'models', 'zoedepth_tiny.py')
MMSEG_TOOLS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools')
NUM, H, W = 4, 32, 40


def tool_env() -> dict:
    env = dict(os.environ)
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    env['OMP_NUM_THREADS'] = '1'
    env['MKL_NUM_THREADS'] = '1'
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    return env


def run_mmseg_tool(script: str, *args: str, cwd: str = REPO,
                   timeout: int = 300,
                   launcher: bool = False) -> subprocess.CompletedProcess:
    """Run mmseg's ``script``; with ``launcher`` through
    ``tools/misc/mmseg_tool.py`` (imports mmzoe first: needed by the tools
    that import mmseg.apis/mmseg.models under mmcv-lite)."""
    path = osp.join(MMSEG_TOOLS, script)
    assert osp.isfile(path), path
    cmd = [sys.executable, path, *args]
    if launcher:
        cmd = [sys.executable, osp.join(REPO, 'tools', 'misc',
                                        'mmseg_tool.py'), script, *args]
    proc = run(cmd, cwd=cwd, env=tool_env(), timeout=timeout)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


def data_options(root: str) -> list:
    return [f'{split}_dataloader.dataset.data_root={root}'
            for split in ('train', 'val', 'test')]


@pytest.fixture(scope='module')
def tiny(tmp_path_factory) -> dict:
    """``root`` (cwd for mmseg's tools: the config's relative
    ``data/tiny_nyu`` exists there), ``data`` and ``ckpt``."""
    spec = importlib.util.spec_from_file_location(
        'make_tiny_nyu', osp.join(REPO, 'tests', 'configs',
                                  'make_tiny_nyu.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = str(tmp_path_factory.mktemp('mmseg_tools'))
    data = osp.join(root, 'data', 'tiny_nyu')
    module.make_tiny_nyu(osp.join(data, 'tiny_nyu.mat'), num=NUM, height=H,
                         width=W)
    from mmzoe.datasets import NYUv2LabeledDataset
    from mmzoe.registry import MODELS
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmzoe')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = osp.join(root, 'tiny.pth')
    meta = dict(dataset_meta=dict(NYUv2LabeledDataset.METAINFO))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), ckpt)
    return dict(root=root, data=data, ckpt=ckpt)


# --------------------------------------------------------- tools/test.py
def test_mmseg_test_tool_out(tiny, tmp_path):
    """``--out`` sets ``keep_results`` and ``output_dir`` on the metric."""
    out = str(tmp_path / 'out')
    run_mmseg_tool('test.py', CONFIG, tiny['ckpt'], '--out', out,
                   '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                   *data_options(tiny['data']))
    with open(osp.join(out, 'per_image_metrics.csv')) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == NUM
    assert all(float(r['abs_rel']) > 0 for r in rows)


# ------------------------------------ init_model / print_config / benchmark
def test_mmseg_init_model_accepts_pretrained_none(tiny):
    from mmseg.apis import init_model
    model = init_model(CONFIG, tiny['ckpt'], device='cpu')
    assert type(model).__name__ == 'ZoeDepthEstimator'
    assert model.cfg.model.pretrained is None
    assert len(model.dataset_meta['classes']) == 14  # from the checkpoint


def test_estimator_refuses_a_pretrained_path():
    cfg = Config.fromfile(TINY_MODEL)
    cfg.model.pretrained = 'some_backbone.pth'
    from mmzoe.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmzoe'):
        with pytest.raises(ValueError, match='core_checkpoint'):
            MODELS.build(cfg.model)


def test_mmseg_print_config_graph(tiny):
    proc = run_mmseg_tool('misc/print_config.py', CONFIG, '--graph',
                          cwd=tiny['root'], launcher=True)
    assert 'Model graph:\nZoeDepthEstimator(' in proc.stdout
    with open(osp.join(tiny['root'], 'example-graph.txt')) as f:
        assert 'ZoeDPTNeck(' in f.read()


def test_mmseg_benchmark(tiny, tmp_path):
    # mmseg's benchmark has no --cfg-options: the config's relative
    # data_root is found from cwd
    work = str(tmp_path / 'bench')
    run_mmseg_tool('analysis_tools/benchmark.py', CONFIG, tiny['ckpt'],
                   '--work-dir', work, '--log-interval', '1',
                   cwd=tiny['root'])
    assert glob.glob(osp.join(work, 'fps_*.json'))


# ------------------------------------------------------ inference_model
def test_mmseg_inference_model_array_and_path(tiny, tmp_path):
    from mmseg.apis import inference_model, init_model

    from mmzoe.apis import inference_depth
    model = init_model(CONFIG, tiny['ckpt'], device='cpu')
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (H + 5, W + 7, 3), dtype=np.uint8)
    path = str(tmp_path / 'img.png')
    cv2.imwrite(path, rgb[..., ::-1])  # a PNG holds BGR on disk for cv2
    # path first: mmseg's inference_model rewrites model.cfg.test_pipeline
    # in place for an array (LoadImageFromNDArray stays there afterwards)
    from_path = inference_model(model, path)
    from_array = inference_model(model, rgb)
    depth = from_array.pred_depth_map.data
    assert tuple(depth.shape) == (1, H + 5, W + 7)
    torch.testing.assert_close(from_path.pred_depth_map.data, depth)
    # the same numbers as mmzoe's own inference API (RGB in)
    ours = inference_depth(model, rgb)
    np.testing.assert_allclose(depth[0].numpy(), ours, rtol=1e-5,
                               atol=1e-6)


def test_zoe_load_image_passes_dataset_images_through(tiny):
    """The new first step of the test pipelines changes nothing for
    mmzoe's datasets (they read the image themselves)."""
    from mmzoe.datasets import NYUv2LabeledDataset
    kwargs = dict(data_root=tiny['data'], ann_file='tiny_nyu.mat',
                  split='all', with_labels=False, test_mode=True)
    plain = NYUv2LabeledDataset(pipeline=[dict(type='PackSegInputs')],
                                **kwargs)
    loaded = NYUv2LabeledDataset(
        pipeline=Config.fromfile(CONFIG).test_pipeline, **kwargs)
    assert Config.fromfile(CONFIG).test_pipeline[0]['type'] == \
        'ZoeLoadImage'
    for i in range(NUM):
        a, b = plain[i], loaded[i]
        assert torch.equal(a['inputs'], b['inputs'])
        assert torch.equal(a['data_samples'].gt_depth_map.data,
                           b['data_samples'].gt_depth_map.data)


# ------------------------------------------------------- browse_dataset
def test_mmseg_browse_dataset_with_zoe_visualizer(tiny, tmp_path):
    out = str(tmp_path / 'browse')
    run_mmseg_tool(
        'misc/browse_dataset.py', CONFIG, '--not-show', '--output-dir', out,
        '--cfg-options', *data_options(tiny['data']),
        # mmseg's tool builds in scope mmseg: qualify our types
        'train_dataloader.dataset.type=mmzoe.NYUv2LabeledDataset',
        'train_dataloader.dataset.with_labels=True',
        'visualizer.type=mmzoe.ZoeDepthVisualizer')
    files = sorted(glob.glob(osp.join(out, 'vis_data', 'vis_image',
                                      '*.png')))
    assert [osp.basename(f) for f in files] == [
        f'{i:05d}_0.png' for i in range(NUM)]
    panel = cv2.imread(files[0])
    # RGB | ground truth | colour bar | labels: wider than three tiles
    assert panel.shape[1] > 3 * W and panel.shape[0] > H


# ------------------------------------------ a plain mmseg-scope config
def test_neck_default_relative_head_in_mmseg_scope():
    from mmseg.registry import MODELS as MMSEG_MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        neck = MMSEG_MODELS.build(
            dict(type='mmzoe.ZoeDPTNeck', in_channels=[8, 16, 32, 64],
                 channels=16))
    assert type(neck.relative_head).__name__ == 'ZoeRelativeDepthHead'


# ---------------------------------------------------- FLOP counters
def _mmengine_flops(attn_impl: str, fused: bool) -> int:
    from mmengine.analysis import get_model_complexity_info

    from mmzoe.registry import MODELS
    cfg = Config.fromfile(TINY_MODEL)
    cfg.model.backbone.attn_impl = attn_impl
    cfg.model.decode_head.fused_expectation = fused
    with DefaultScope.overwrite_default_scope('mmzoe'):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).eval()
    x = torch.rand(1, 3, 64, 64)
    # grad mode on, as mmseg's get_flops.py: the custom autograd paths
    out = get_model_complexity_info(model, inputs=(x, ), show_table=False,
                                    show_arch=False)
    return out['flops']


def test_mmengine_flop_counter_counts_fused_ops():
    """MMEngine's (jit-trace) counter, which mmseg's get_flops.py uses:
    fused attention + fused log-binomial expectation count as much as
    timm's attention and upstream's order."""
    upstream = _mmengine_flops('timm', False)
    fused = _mmengine_flops('sdpa', True)
    assert upstream > 0
    assert fused == upstream


# ------------------------------------------ tools/train.py --resume
def _train_tool():
    spec = importlib.util.spec_from_file_location(
        'mmzoe_train_tool', osp.join(REPO, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_resume_in_mmseg_order(tmp_path):
    tool = _train_tool()
    # mmseg's order: --resume CONFIG (latest checkpoint of the work dir)
    args = tool.parse_args(['--resume', CONFIG, '--work-dir', str(tmp_path)])
    assert (args.config, args.resume) == (CONFIG, 'auto')
    cfg = tool.build_train_cfg(args)
    assert cfg.resume is True and cfg.load_from is None
    # ours: CONFIG --resume [PATH]
    args = tool.parse_args([CONFIG, '--resume'])
    assert (args.config, args.resume) == (CONFIG, 'auto')
    args = tool.parse_args([CONFIG, '--resume', 'w/iter_2.pth'])
    assert (args.config, args.resume) == (CONFIG, 'w/iter_2.pth')
    args = tool.parse_args(['--resume', 'w/iter_2.pth', CONFIG])
    assert (args.config, args.resume) == (CONFIG, 'w/iter_2.pth')
    with pytest.raises(SystemExit) as err:
        tool.parse_args(['--resume', 'w/iter_2.pth'])
    assert err.value.code == 2


# ------------------------------------------------------ mmzoe's own tools
def _tool(rel_path: str):
    spec = importlib.util.spec_from_file_location(
        'mmzoe_tool_' + osp.basename(rel_path)[:-3],
        osp.join(REPO, 'tools', rel_path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_get_flops_counts_fused_ops_like_upstream_order():
    """Fused attention + fused log-binomial expectation (projection off, so
    the order of operations is upstream's) count as the --eager model.
    ``conv_before_resize`` is off here: it really does fewer FLOPs (the 1x1
    convolution before the upsampling)."""
    tool = _tool('analysis_tools/get_flops.py')
    opts = ['model.backbone.attn_impl=sdpa',
            'model.decode_head.fused_expectation=True',
            'model.decode_head.clb_project_condition=False',
            'model.neck.conv_before_resize=False']
    fused = tool.count(tool.parse_args(
        [TINY_MODEL, '--counter', 'both', '--shape', '48', '56',
         '--cfg-options', *opts]))
    eager = tool.count(tool.parse_args(
        [TINY_MODEL, '--counter', 'both', '--shape', '48', '56',
         '--eager', '--cfg-options', *opts]))
    assert fused['network_shape'] == (64, 64)
    assert fused['torch_flops'] > 0 and fused['mmengine_flops'] > 0
    assert fused['torch_flops'] == eager['torch_flops']
    assert fused['mmengine_flops'] == eager['mmengine_flops']


def test_browse_dataset_tool(tiny, tmp_path):
    tool = _tool('misc/browse_dataset.py')
    out = str(tmp_path / 'panels')
    n = tool.browse(tool.parse_args(
        [CONFIG, '--output-dir', out, '--num', '2', '--cfg-options',
         f'train_dataloader.dataset.data_root={tiny["data"]}',
         'train_dataloader.dataset.with_labels=True']))
    assert n == 2
    panel = cv2.imread(osp.join(out, 'train_00001.png'))[..., ::-1]
    assert panel.shape[0] > H and panel.shape[1] > 3 * W
    # the RGB tile (below the title strip) is the dataset image, RGB order
    from mmzoe.datasets import NYUv2LabeledDataset
    ds = NYUv2LabeledDataset(data_root=tiny['data'], ann_file='tiny_nyu.mat',
                             split='all', with_labels=True,
                             pipeline=[dict(type='PackSegInputs')])
    rgb = ds[1]['inputs'].permute(1, 2, 0).numpy()
    strip = panel.shape[0] - H
    np.testing.assert_array_equal(panel[strip:, :W], rgb)


def test_analyze_logs_tool(tmp_path):
    import json
    run = tmp_path / 'run' / '20260101_000000' / 'vis_data'
    run.mkdir(parents=True)
    with open(run / 'scalars.json', 'w') as f:
        for it in range(1, 11):
            f.write(json.dumps(dict(lr=1e-3, loss=2.0 / it, iter=it,
                                    step=it)) + '\n')
            if it % 5 == 0:
                f.write(json.dumps(dict(a1=0.1 * it, abs_rel=1.0 / it,
                                        step=it)) + '\n')
    tool = _tool('analysis_tools/analyze_logs.py')
    out = str(tmp_path / 'curves.png')
    keys = tool.analyze(tool.parse_args([str(tmp_path / 'run'), '--out',
                                         out]))
    assert keys == ['loss', 'a1', 'abs_rel']
    img = cv2.imread(out)
    assert img is not None and img.shape[1] > img.shape[0]
    train, evals = tool.load_log(tool.find_log(str(tmp_path / 'run')))
    assert len(train) == 10 and len(evals) == 2
    with pytest.raises(tool.LogError, match='not logged'):
        tool.analyze(tool.parse_args([str(tmp_path / 'run'), '--keys',
                                      'silog', '--out', out]))


def test_print_config_tool(capsys):
    tool = _tool('misc/print_config.py')
    tool.print_config(tool.parse_args([CONFIG, '--graph', '--summary-only']))
    text = capsys.readouterr().out
    assert 'network input: (64, 64)' in text
    assert 'ZoeDepthMetric range [0.001, 10.0] m, crop None' in text
    assert 'Model graph:\nZoeDepthEstimator(' in text
    assert '  decode_head: ' in text
