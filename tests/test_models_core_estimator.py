"""Tests of ZoeDepthEstimator and ZoeDepthDataPreProcessor (tiny config)."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmzoe.models.data_preprocessors import ZoeDepthDataPreProcessor
from mmzoe.registry import MODELS
from mmzoe.utils import register_all_modules

ROOT = Path(__file__).resolve().parents[1]
TINY_CFG = ROOT / 'configs/_base_/models/zoedepth_tiny.py'

register_all_modules(init_default_scope=True)
torch.set_num_threads(1)


def _build(test_cfg=None, aux=False, **kwargs):
    cfg = Config.fromfile(str(TINY_CFG))
    if test_cfg is not None:
        cfg.model.test_cfg = test_cfg
    if aux:
        cfg.model.auxiliary_head = dict(
            type='ZoeUNetSegHead', in_channels=[32] * 5,
            block_channels=[16, 8, 8, 8, 8], num_classes=4,
            ignore_index=255, align_corners=True, norm_cfg=None,
            lambda_dis=0.1, dice_ratio=0.5)
    cfg.model.update(kwargs)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    with torch.no_grad():  # make SwinV2 blocks non-identity (spec §10.21)
        for p in model.backbone.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _images(n, h=48, w=80, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
            for _ in range(n)]


def _samples(shapes, depth=True, seg=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for h, w in shapes:
        s = SegDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
        if depth:
            d = 0.5 + 5 * torch.rand(1, h, w, generator=g)
            d[:, :2] = 0  # invalid pixels
            s.gt_depth_map = PixelData(data=d)
        if seg:
            s.gt_sem_seg = PixelData(
                data=torch.randint(0, 4, (1, h, w), generator=g))
        out.append(s)
    return out


# ----------------------------------------------------------- preprocessor
def test_preprocessor_resizes_then_normalises():
    pre = ZoeDepthDataPreProcessor(size=(32, 40), bgr_to_rgb=True)
    imgs = _images(2, 24, 30)
    samples = _samples([(24, 30), (24, 30)])
    out = pre(dict(inputs=imgs, data_samples=samples), training=False)
    # Independent reference: RGB in [0, 1], resize (ac=True), (x - .5) / .5
    ref = torch.stack([i[[2, 1, 0]].float() for i in imgs]) / 255.0
    ref = F.interpolate(ref, size=(32, 40), mode='bilinear',
                        align_corners=True)
    ref = (ref - 0.5) / 0.5
    torch.testing.assert_close(out['inputs'], ref, rtol=0, atol=1e-6)
    meta = out['data_samples'][0].metainfo
    assert meta['ori_shape'] == (24, 30)
    assert meta['img_shape'] == (32, 40) and meta['pad_shape'] == (32, 40)
    # GT untouched (full resolution).
    assert out['data_samples'][0].gt_depth_map.shape == (24, 30)
    with pytest.raises(ValueError, match='different sizes'):
        ZoeDepthDataPreProcessor(size=None)(
            dict(inputs=_images(1, 8, 8) + _images(1, 8, 9)))


def test_preprocessor_pads_depth_and_labels_separately():
    pre = ZoeDepthDataPreProcessor(size=(16, 16))
    samples = _samples([(10, 12), (12, 10)], seg=True)
    orig = [s.gt_depth_map.data.clone() for s in samples]
    out = pre(dict(inputs=_images(1, 10, 12) + _images(1, 12, 10),
                   data_samples=samples), training=True)
    s0, s1 = out['data_samples']
    assert s0.gt_depth_map.shape == (12, 12) == s1.gt_sem_seg.shape
    assert (s0.gt_depth_map.data[:, 10:] == 0).all()
    assert (s0.gt_sem_seg.data[:, 10:] == 255).all()
    assert (s1.gt_depth_map.data[:, :, 10:] == 0).all()
    assert (s1.gt_sem_seg.data[:, :, 10:] == 255).all()
    assert torch.equal(s0.gt_depth_map.data[:, :10, :12], orig[0])
    assert s0.metainfo['gt_depth_shape'] == (10, 12)
    assert s1.metainfo['gt_seg_shape'] == (12, 10)


# --------------------------------------------------------------- estimator
def test_predict_finite_in_range_at_original_size():
    model = _build().eval()
    head = model.decode_head
    data = dict(inputs=_images(1, 480, 640),
                data_samples=_samples([(480, 640)], depth=False))
    with torch.no_grad():
        out = model.test_step(data)
    pred = out[0].pred_depth_map.data
    assert pred.shape == (1, 480, 640)
    assert torch.isfinite(pred).all()
    assert pred.min() >= head.min_depth and pred.max() <= head.max_depth
    # data_samples=None: network resolution, still clamped.
    with torch.no_grad():
        out = model.test_step(dict(inputs=_images(2, 30, 50)))
    assert out[0].pred_depth_map.shape == (64, 64)


def test_batch_equals_single_and_flip_tta_matches_manual():
    model = _build(test_cfg=dict(mode='whole', flip=True)).eval()
    imgs = _images(2, 40, 56)
    data = dict(inputs=imgs, data_samples=_samples([(40, 56), (40, 56)],
                                                   depth=False))
    with torch.no_grad():
        both = model.test_step(data)
        singles = [
            model.test_step(dict(inputs=[img], data_samples=_samples(
                [(40, 56)], depth=False)))[0] for img in imgs
        ]
        # Manual flip average at network resolution, resize, clamp.
        x = model.data_preprocessor(dict(inputs=imgs))['inputs']
        f = model._forward(x)
        f_flip = model._forward(x.flip(-1)).flip(-1)
        avg = 0.5 * (f + f_flip)
        manual = F.interpolate(avg, size=(40, 56), mode='bilinear',
                               align_corners=True).clamp(1e-3, 10.0)
        plain = model._forward(x)
    for i in range(2):
        torch.testing.assert_close(both[i].pred_depth_map.data,
                                   singles[i].pred_depth_map.data,
                                   rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(both[i].pred_depth_map.data, manual[i],
                                   rtol=1e-5, atol=1e-6)
    # The flip actually changes something (random weights, random images).
    assert not torch.allclose(avg, plain)


def test_unsupported_test_mode_raises():
    with pytest.raises(ValueError, match='slide'):
        _build(test_cfg=dict(mode='slide', crop_size=(64, 64),
                             stride=(32, 32)))


def test_train_step_gradients_reach_every_trainable_parameter():
    model = _build(aux=True).train()
    with torch.no_grad():  # keep the final ReLU of rel_depth alive
        model.neck.relative_head.conv3.bias.fill_(1.0)
    data = dict(inputs=_images(2, 40, 56),
                data_samples=_samples([(40, 56), (40, 56)], seg=True))
    data = model.data_preprocessor(data, training=True)
    losses = model(**data, mode='loss')
    assert any(k.startswith('decode.') for k in losses)
    assert any(k.startswith('aux.') for k in losses)
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    no_grad = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None
                                       or not p.grad.abs().sum() > 0)]
    assert no_grad == []
    # Only the never-used refinenet4.resConfUnit1 is frozen.
    frozen = {n.rsplit('.', 2)[0] for n, p in model.named_parameters()
              if not p.requires_grad}
    assert frozen == {'neck.refinenet4.resConfUnit1'}


def test_train_val_test_step_and_aux_seg_prediction():
    model = _build(aux=True, test_cfg=dict(mode='whole', aux_seg=True,
                                           rel_depth=True))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
    model.train()
    log = model.train_step(
        dict(inputs=_images(2, 40, 56),
             data_samples=_samples([(40, 56), (40, 56)], seg=True)), optim)
    assert all(torch.isfinite(v) for v in log.values())
    model.eval()
    for step in (model.val_step, model.test_step):
        out = step(dict(inputs=_images(1, 36, 50),
                        data_samples=_samples([(36, 50)], seg=True)))
        assert out[0].pred_depth_map.shape == (36, 50)
        assert out[0].pred_sem_seg.shape == (36, 50)
        assert out[0].pred_sem_seg.data.max() < 4
        assert out[0].pred_rel_depth.shape == (36, 50)
        assert out[0].gt_depth_map.shape == (36, 50)  # GT not resized
    # Default test_cfg never runs the auxiliary head.
    model = _build(aux=True).eval()
    calls = []
    model.auxiliary_head.register_forward_hook(
        lambda *a: calls.append(1))
    out = model.test_step(dict(inputs=_images(1, 36, 50)))
    assert calls == [] and 'pred_sem_seg' not in out[0]
    # ... and the same hook does see the head when aux_seg asks for it.
    model.test_cfg['aux_seg'] = True
    model.test_step(dict(inputs=_images(1, 36, 50)))
    assert calls == [1]


def test_core_checkpoint_loading(tmp_path):
    src = _build()
    core = {k: v for k, v in src.state_dict().items()
            if k.startswith(('backbone.', 'neck.'))}
    path = tmp_path / 'core.pth'
    torch.save({'state_dict': core}, path)
    model = _build(core_checkpoint=str(path))
    model.init_weights()
    for k, v in model.state_dict().items():
        if k in core:
            assert torch.equal(v, core[k]), k
    with pytest.raises(FileNotFoundError, match='midas_to_mmzoe.py'):
        _build(core_checkpoint=str(tmp_path / 'none.pth')).init_weights()
    del core['neck.layer3_rn.weight']
    torch.save(core, path)
    with pytest.raises(KeyError, match='neck.layer3_rn.weight'):
        _build(core_checkpoint=str(path)).init_weights()
