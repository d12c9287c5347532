"""The core contract: every core gives a ZoeCoreOutput, one path after it.

A SwinV2 core, a timm CNN core (the CPU demo's kind) and a ViT core with the
reassemble stage are built from the same tiny config, changing only the
backbone (+ reassemble) and the neck's input widths; the same neck, metric
head, auxiliary head, estimator and panel hook then serve all three, and the
relative depth is computed once per forward pass.
"""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import mmzoe  # noqa: F401
from mmzoe.apis import inference_depth
from mmzoe.models.utils import ZoeCoreOutput
from mmzoe.registry import HOOKS, MODELS, VISUALIZERS

torch.set_num_threads(1)
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = osp.join(REPO, 'configs', '_base_', 'models', 'zoedepth_tiny.py')


@MODELS.register_module(name='ZoeTestTinyViT', force=True)
class _TinyViT(nn.Module):
    """A toy ViT: 16-pixel patches, a class token, four hooked blocks giving
    ``(patch_map, cls_token)`` pairs, as a BEiT/DINOv2 wrapper would."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, 16, 16)
        self.cls_token = nn.Parameter(torch.randn(1, dim))
        self.blocks = nn.ModuleList([nn.Linear(dim, dim) for _ in range(4)])

    def forward(self, x):
        grid = self.patch_embed(x)
        b, c, h, w = grid.shape
        tokens = grid.flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(b, -1)
        outs = []
        for block in self.blocks:
            tokens = tokens + torch.tanh(block(tokens))
            cls = cls + torch.tanh(block(cls))
            outs.append((tokens.transpose(1, 2).reshape(b, c, h, w), cls))
        return outs


CORES = dict(
    swinv2=dict(),  # the tiny config as it is
    timm_cnn=dict(
        backbone=dict(
            type='ZoeTimmBackbone', model_name='resnet18',
            channels=(8, 16, 32, 64), stem_width=8, out_indices=(1, 2, 3, 4)),
        neck=dict(in_channels=[8, 16, 32, 64])),
    vit_reassemble=dict(
        backbone=dict(type='ZoeTestTinyViT', dim=16),
        neck=dict(
            in_channels=[8, 16, 24, 32],
            reassemble=dict(
                type='ZoeViTReassemble', in_channels=16,
                out_channels=[8, 16, 24, 32], readout='project'))),
)


def _build(core):
    init_default_scope('mmzoe')
    cfg = Config.fromfile(TINY)
    change = CORES[core]
    if 'backbone' in change:
        cfg.model.backbone = change['backbone']
    cfg.model.neck.update(change.get('neck', {}))
    # the auxiliary head of the segmentation-distillation recipe, unchanged
    cfg.model.auxiliary_head = dict(
        type='ZoeUNetSegHead', in_channels=[32] * 5,
        block_channels=[16, 8, 8, 8, 8], num_classes=4, norm_cfg=None)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def _batch(n=2, h=48, w=56, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(n):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g,
                                    dtype=torch.uint8))
        s = SegDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
        s.gt_depth_map = PixelData(
            data=0.5 + 5 * torch.rand(1, h, w, generator=g))
        s.gt_sem_seg = PixelData(
            data=torch.randint(0, 4, (1, h, w), generator=g))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


class _CountCalls:

    def __init__(self, module):
        self.n = 0
        module.register_forward_hook(self)

    def __call__(self, *args):
        self.n += 1


@pytest.mark.parametrize('core', sorted(CORES))
def test_every_core_feeds_the_same_heads(core):
    model = _build(core)
    data = model.data_preprocessor(_batch(), True)
    feats = model.extract_feat(data['inputs'])
    assert isinstance(feats, ZoeCoreOutput)
    b = data['inputs'].shape[0]
    assert feats.bottleneck.shape == (b, 32, 2, 2)
    assert [tuple(r.shape[-2:]) for r in feats.decoder] == [
        (4, 4), (8, 8), (16, 16), (32, 32)]
    assert feats.out_conv.shape == (b, 8, 64, 64)
    assert feats.rel_depth.shape == (b, 1, 64, 64)
    assert feats.pyramid() == (feats.bottleneck, ) + feats.decoder
    # training: both heads on the one output, every trainable parameter
    # of core and heads reached by the loss
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'decode.loss_silog', 'aux.loss_dice', 'aux.loss_focal'} <= set(
        losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    no_grad = [n for n, p in model.named_parameters()
               if p.requires_grad and p.grad is None]
    assert no_grad == []
    # checkpoint layout of the relative head unchanged for every core
    assert 'neck.relative_head.conv3.weight' in model.state_dict()


@pytest.mark.parametrize('core', ['timm_cnn', 'vit_reassemble'])
def test_prediction_relative_depth_is_the_core_output(core):
    model = _build(core).eval()
    model.test_cfg['rel_depth'] = True
    calls = _CountCalls(model.neck)
    batch = _batch(n=1, h=40, w=52)
    with torch.no_grad():
        out = model.test_step(batch)[0]
        assert calls.n == 1  # metric and relative depth: one forward
        x = model.data_preprocessor(batch, False)['inputs']
        rel = model.extract_feat(x).rel_depth
    ref = F.interpolate(rel, size=(40, 52), mode='bilinear',
                        align_corners=True)[0]
    torch.testing.assert_close(out.pred_rel_depth.data, ref)
    assert out.pred_depth_map.shape == (40, 52)


def test_api_and_panels_reuse_the_forward_pass(tmp_path):
    model = _build('timm_cnn').eval()
    calls = _CountCalls(model.neck)
    img = _batch(n=1)['inputs'][0].permute(1, 2, 0).numpy()
    depth, rel = inference_depth(model, img, return_relative=True)
    assert calls.n == 1 and depth.shape == rel.shape == (48, 56)
    assert 'rel_depth' not in model.test_cfg  # the API restored it

    vis = VISUALIZERS.build(dict(
        type='ZoeDepthVisualizer', name='zoe_contract_vis',
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path)))
    hook = HOOKS.build(dict(type='ZoeDepthPanelHook', num_images=2))
    runner = SimpleNamespace(model=model, visualizer=vis, iter=3,
                             log_dir=str(tmp_path))
    hook.before_val_epoch(runner)
    calls.n = 0
    batch = _batch(n=2)
    with torch.no_grad():
        outputs = model.val_step(batch)
    hook.after_val_iter(runner, 0, batch, outputs)
    hook.after_val_epoch(runner)
    # two panels with their relative tile, from the one validation forward
    assert calls.n == 1
    assert all('pred_rel_depth' in o for o in outputs)
    assert len(list((tmp_path / 'depth_panels' / 'val_iter_3').iterdir())) \
        == 2
    assert 'rel_depth' not in model.test_cfg
