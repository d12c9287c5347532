"""CPU-demo pieces: the timm backbone wrapper, the relative head's
``final_bias`` option and the demo config (issue 9)."""
import os.path as osp
import sys

import pytest
import timm
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmzoe  # noqa: F401
from mmzoe.models.backbones import ZoeTimmBackbone
from mmzoe.models.decode_heads import ZoeRelativeDepthHead
from mmzoe.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SLIM = dict(channels=(32, 64, 128, 256), stem_width=32)


def test_timm_backbone_matches_plain_resnet_stages():
    torch.manual_seed(0)
    backbone = ZoeTimmBackbone('resnet18', **SLIM).eval()
    # independent reference: the classification ResNet, run stage by stage
    ref = timm.create_model('resnet18', pretrained=False, **SLIM).eval()
    missing, unexpected = ref.load_state_dict(
        backbone.model.state_dict(), strict=False)
    assert not unexpected
    assert set(missing) == {'fc.weight', 'fc.bias'}
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        outs = backbone(x)
        y = ref.maxpool(ref.act1(ref.bn1(ref.conv1(x))))
        expected = []
        for layer in (ref.layer1, ref.layer2, ref.layer3, ref.layer4):
            y = layer(y)
            expected.append(y)
    assert len(outs) == 4
    for o, e, c, s in zip(outs, expected, SLIM['channels'], (4, 8, 16, 32)):
        assert o.shape == (2, c, 64 // s, 96 // s)
        torch.testing.assert_close(o, e)
    assert backbone.out_channels == list(SLIM['channels'])
    assert backbone.out_strides == [4, 8, 16, 32]


def test_timm_backbone_refuses_pretrained():
    with pytest.raises(ValueError, match='pretrained'):
        ZoeTimmBackbone('resnet18', pretrained=True)


def test_relative_head_final_bias_default_unchanged():
    torch.manual_seed(0)
    plain = ZoeRelativeDepthHead(in_channels=16, feat_channels=8)
    torch.manual_seed(0)
    none = ZoeRelativeDepthHead(in_channels=16, feat_channels=8,
                                final_bias=None)
    torch.manual_seed(0)
    biased = ZoeRelativeDepthHead(in_channels=16, feat_channels=8,
                                  final_bias=0.7)
    sd_plain, sd_none, sd_biased = (m.state_dict()
                                    for m in (plain, none, biased))
    for k in sd_plain:
        torch.testing.assert_close(sd_none[k], sd_plain[k])
        if k != 'conv3.bias':
            torch.testing.assert_close(sd_biased[k], sd_plain[k])
    assert torch.all(sd_biased['conv3.bias'] == 0.7)
    # a checkpoint overwrites the start value: same outputs as the original
    biased.load_state_dict(sd_plain)
    x = torch.randn(1, 16, 6, 8)
    for a, b in zip(biased(x), plain(x)):
        torch.testing.assert_close(a, b)


def test_relative_head_final_bias_keeps_relu_alive():
    torch.manual_seed(0)
    head = ZoeRelativeDepthHead(in_channels=16, feat_channels=8,
                                final_bias=1.0)
    with torch.no_grad():
        head.conv3.weight.zero_()
    feat, rel = head(torch.randn(2, 16, 5, 7))
    assert rel.shape == (2, 1, 10, 14)
    torch.testing.assert_close(rel, torch.ones_like(rel))
    rel.sum().backward()
    assert head.conv3.weight.grad.abs().sum() > 0


def test_demo_config_spec_and_one_training_step():
    sys.path.insert(0, osp.join(REPO, 'tools'))
    try:
        import demo
    finally:
        sys.path.pop(0)
    args = demo.parse_args([])
    assert osp.isfile(args.config)
    cfg = Config.fromfile(args.config)
    # issue 9: 128-192 px network input, segmentation distillation on
    size = cfg.model.data_preprocessor.size
    assert all(128 <= s <= 192 for s in size)
    assert cfg.model.auxiliary_head.type == 'ZoeUNetSegHead'
    assert cfg.model.auxiliary_head.lambda_dis > 0
    init_default_scope('mmzoe')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_depth_map = PixelData(data=torch.rand(1, 60, 80) * 5 + 0.5)
        s.gt_sem_seg = PixelData(data=torch.randint(0, 14, (1, 60, 80)))
        s.set_metainfo(dict(ori_shape=(60, 80), img_shape=(60, 80)))
        samples.append(s)
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 256, (3, 60, 80), dtype=torch.uint8)
                     for _ in range(2)], data_samples=samples), True)
    assert data['inputs'].shape[-2:] == tuple(size)
    losses = model(**data, mode='loss')
    assert any(k.startswith('aux.') for k in losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    rel_bias = model.neck.relative_head.conv3.bias
    assert rel_bias.grad is not None and torch.isfinite(rel_bias.grad).all()


def test_demo_cfg_options():
    sys.path.insert(0, osp.join(REPO, 'tools'))
    try:
        import demo
    finally:
        sys.path.pop(0)
    args = demo.parse_args(
        ['--cfg-options', 'optim_wrapper.optimizer.lr=0.001'])
    assert args.cfg_options == {'optim_wrapper.optimizer.lr': 0.001}
