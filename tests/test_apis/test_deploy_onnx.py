"""ONNX export (tools/deployment/pytorch2onnx.py) and the ONNX Runtime
backend (mmzoe.apis.OnnxDepthPredictor, tools/infer.py --backend
onnxruntime) on the tiny model with the segmentation branch."""
import contextlib
import importlib.util
import io
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')

import mmzoe  # noqa: E402,F401
from mmzoe.apis import (OnnxDepthPredictor, inference_depth,  # noqa: E402
                        init_model, plain_export_options)

from zoe_testing import REPO as ROOT

SEG_TINY = osp.join(ROOT, 'tests', 'configs', 'segdistill_tiny.py')
SWIN2B = osp.join(ROOT, 'configs', '_base_', 'models', 'zoedepth_swin2b.py')
EXPORT = osp.join(ROOT, 'tools', 'deployment', 'pytorch2onnx.py')
INFER = osp.join(ROOT, 'tools', 'infer.py')
FUSED = ['model.decode_head.fused_expectation=True',
         'model.backbone.attn_impl=sdpa']
FUSED_OPTS = {'model.decode_head.fused_expectation': True,
              'model.backbone.attn_impl': 'sdpa'}


def _image(h, w, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / w, yy / h, (xx + yy) / (h + w)], -1) * 200
    base = base * rng.uniform(0.4, 1.2, 3)
    return np.clip(base + rng.normal(0, 15, (h, w, 3)), 0, 255).astype(
        np.uint8)


def _load_tool(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Result:

    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _run(script, args, cwd=None):
    """Run a tool's main() in this process (imports once: fast)."""
    from mmzoe.utils.tool_errors import run_tool
    tool = _load_tool(script, osp.splitext(osp.basename(script))[0])
    out, err = io.StringIO(), io.StringIO()
    code = 0

    def _main():
        nonlocal code
        code = tool.main(list(args))

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run_tool(_main, osp.basename(script))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return _Result(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """A random tiny checkpoint (with seg branch) and its dynamic export,
    made with the fused switches on in the config."""
    root = tmp_path_factory.mktemp('onnx')
    torch.manual_seed(0)
    with pytest.warns(UserWarning):
        model = init_model(SEG_TINY)
    # mild noise on every weight: spatially varying depth, and a model
    # that is not chaotic (larger random weights amplify float rounding
    # 100-fold, in PyTorch alone)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    assert any(k.startswith('auxiliary_head.') for k in model.state_dict())
    ckpt = str(root / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    out = str(root / 'tiny.onnx')
    res = _run(EXPORT, [SEG_TINY, ckpt, '--out', out, '--dynamic-batch',
                        '--cfg-options', *FUSED], ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    return dict(root=root, ckpt=ckpt, onnx=out, log=res.stdout,
                model=init_model(SEG_TINY, ckpt, cfg_options=FUSED_OPTS))


def test_export_checked_compared_and_plain(exported):
    log = exported['log']
    # the fused switches were set to their plain equivalents, and said so
    assert "model.decode_head.fused_expectation = False" in log
    assert "model.backbone.attn_impl = 'timm'" in log
    assert 'onnx.checker: OK' in log and 'OK: max relative difference' in log
    proto = onnx.load(exported['onnx'])
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ['image']
    assert [o.name for o in proto.graph.output] == ['depth', 'rel_depth']
    # the training-only segmentation branch is not in the graph
    names = [t.name for t in proto.graph.initializer] + [
        n.name for n in proto.graph.node]
    assert names and not any('auxiliary_head' in n for n in names)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta['mmzoe.flip'] == 'False'
    assert meta['mmzoe.network_size'] == '64x64'


def test_plain_export_options_of_the_swin2b_config():
    opts = plain_export_options(Config.fromfile(SWIN2B))
    assert opts == {'model.backbone.attn_impl': 'timm',
                    'model.decode_head.fused_expectation': False}


def test_predictor_matches_pytorch_path_any_size_and_batch(exported):
    predictor = OnnxDepthPredictor(exported['onnx'], batch_size=3)
    images = [_image(48, 64, 0), _image(37, 90, 1), _image(48, 64, 2),
              _image(120, 80, 3)]
    depths, rels = predictor(images, return_relative=True)
    ref_d, ref_r = inference_depth(exported['model'], images,
                                   return_relative=True)
    for img, d, r, rd, rr in zip(images, depths, rels, ref_d, ref_r):
        assert d.shape == img.shape[:2] and d.dtype == np.float32
        assert np.abs(d - rd).max() / np.abs(rd).max() < 1e-5
        assert np.abs(r - rr).max() <= 1e-5 * max(np.abs(rr).max(), 1e-6)
    assert np.ptp(depths[0]) > 0.02  # the maps are not flat
    single = predictor(images[1])
    assert isinstance(single, np.ndarray)
    np.testing.assert_allclose(single, depths[1], rtol=1e-6)


def test_flip_and_fp16_exports(exported, tmp_path):
    img = _image(48, 64, 5)
    out = str(tmp_path / 'flip.onnx')
    res = _run(EXPORT, [SEG_TINY, exported['ckpt'], '--out', out, '--flip',
                        '--shape', '48', '64'], ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    pred = OnnxDepthPredictor(out)
    assert pred.flip and pred.fixed_size == (48, 64)
    ref = inference_depth(exported['model'], img, flip=True)
    assert np.abs(pred(img) - ref).max() / ref.max() < 1e-5
    with pytest.raises(ValueError, match='exported with flip=True'):
        pred(img, flip=False)
    with pytest.raises(ValueError, match='exported for'):
        pred(_image(40, 64, 0))

    # fp16, and the check failing: the file is written and checked, the
    # comparison then exceeds an impossible tolerance -> exit 1
    out16 = str(tmp_path / 'fp16.onnx')
    res = _run(EXPORT, [SEG_TINY, exported['ckpt'], '--out', out16,
                        '--precision', 'fp16', '--rtol', '1e-12',
                        '--shape', '48', '64'], ROOT)
    assert res.returncode == 1
    assert 'the mean relative difference' in res.stderr
    assert 'exceeds 1e-12' in res.stderr
    d16 = OnnxDepthPredictor(out16)(img)
    ref = inference_depth(exported['model'], img)
    assert 0 < np.mean(np.abs(d16 - ref) / ref) < 1e-2
    assert osp.getsize(out16) < 0.7 * osp.getsize(exported['onnx'])


def test_export_bad_input_one_line(tmp_path):
    res = _run(EXPORT, [SEG_TINY, str(tmp_path / 'missing.pth'), '--out',
                        str(tmp_path / 'x.onnx')], ROOT)
    assert res.returncode == 2
    assert 'missing.pth' in res.stderr
    assert 'Traceback' not in res.stderr


def test_infer_cli_onnxruntime_same_outputs(exported, tmp_path):
    from PIL import Image
    images = tmp_path / 'images'
    images.mkdir()
    for i, hw in enumerate([(48, 64), (40, 56)]):
        Image.fromarray(_image(*hw, seed=i)).save(str(images / f'im{i}.png'))
    outs = {}
    for backend, head in (('onnxruntime', [exported['onnx']]),
                          ('pytorch', [SEG_TINY, exported['ckpt']])):
        out = tmp_path / backend
        args = ['--backend', backend] + head + [
            str(images), '--out', str(out), '--panel', '--ply']
        if backend == 'pytorch':
            args += ['--cfg-options', *FUSED]
        res = _run(INFER, args, ROOT)
        assert res.returncode == 0, res.stderr[-3000:]
        outs[backend] = out
    names = sorted(os.listdir(outs['pytorch']))
    assert names == sorted(os.listdir(outs['onnxruntime']))
    assert {'im0_depth.png', 'im0_depth.npy', 'im0_depth_color.png',
            'im0_panel.png', 'im0.ply'} <= set(names)
    for i in range(2):
        a = np.load(str(outs['onnxruntime'] / f'im{i}_depth.npy'))
        b = np.load(str(outs['pytorch'] / f'im{i}_depth.npy'))
        assert np.abs(a - b).max() / b.max() < 1e-5


def test_infer_cli_onnxruntime_usage_errors(exported, tmp_path):
    res = _run(INFER, ['--backend', 'onnxruntime', exported['onnx'],
                       exported['ckpt'], str(tmp_path)], ROOT)
    assert res.returncode == 2 and 'MODEL.onnx INPUT' in res.stderr
    img = tmp_path / 'a.png'
    from PIL import Image
    Image.fromarray(_image(20, 20, 0)).save(str(img))
    res = _run(INFER, ['--backend', 'onnxruntime',
                       str(tmp_path / 'none.onnx'), str(img)], ROOT)
    assert res.returncode == 2
    assert 'none.onnx: ONNX model not found' in res.stderr
    assert 'Traceback' not in res.stderr


def test_missing_onnxruntime_clear_error(exported, monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(ImportError, match=r'onnxruntime is not installed.*'
                       r'pip install'):
        OnnxDepthPredictor(exported['onnx'])
