"""Depth Anything cores: DINOv2 backbone, DA head options, converters.

``tests/data/depth_anything_v2_tiny.pt`` is a test vector of upstream Depth
Anything V2's own classes (DINOv2 ViT + DPT head with ``use_clstoken=True``,
tiny sizes, perturbed random weights) on a 42x70 input, written by
``tools/analysis_tools/depth_anything_equivalence.py --side fixture``. The
full-size comparison (V2 S/B/L, V1 metric) is that script's default mode.
"""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine import Config

import mmzoe  # noqa: F401
from mmzoe.models.utils.ckpt_convert import (
    CheckpointConversionError, check_against_model_keys,
    convert_depth_anything_keys, convert_depth_anything_metric_keys,
    depth_anything_dropped_keys)
from mmzoe.registry import MODELS

from zoe_testing import REPO, TESTS

HERE = TESTS
FIXTURE = osp.join(HERE, 'data', 'depth_anything_v2_tiny.pt')

# the fixture's sizes, as mmzoe configs
TINY_BACKBONE = dict(type='ZoeDINOv2', arch='vits', img_size=56, embed_dim=24,
                     depth=4, num_heads=2, out_indices=(0, 1, 2, 3))
TINY_NECK = dict(
    type='ZoeDPTNeck', in_channels=[8, 16, 24, 24], channels=8,
    reassemble=dict(type='ZoeViTReassemble', in_channels=24,
                    out_channels=(8, 16, 24, 24), readout='project'),
    relative_head=dict(type='ZoeRelativeDepthHead', feat_channels=32,
                       scale_factor=1.75))


@pytest.fixture(scope='module')
def vector():
    return torch.load(FIXTURE, map_location='cpu', weights_only=True)


def _core():
    core = nn.Module()
    core.backbone = MODELS.build(TINY_BACKBONE)
    core.neck = MODELS.build(TINY_NECK)
    return core.eval()


def _rel(value, ref):
    return float((value - ref).abs().max() / ref.abs().max())


def test_converted_core_reproduces_upstream_tiny_model(vector):
    core = _core()
    converted = convert_depth_anything_keys(vector['state_dict'])
    core.load_state_dict(converted, strict=True)
    x = vector['input']
    with torch.no_grad():
        # upstream's position-embedding resampling (4x4 -> 3x5 patches)
        assert _rel(core.backbone.pos_embed_for(42, 70),
                    vector['pos_embed_42x70']) < 1e-6
        levels = core.backbone(x)
        out = core.neck(levels)
    assert len(levels) == 4
    for (patch_map, cls_token), ref, ref_cls in zip(
            levels, vector['features'], vector['cls_tokens']):
        assert patch_map.shape == (1, 24, 3, 5)
        assert cls_token.shape == (1, 24)
        # upstream's tokens (B, N, C), row-major over the patch grid
        assert _rel(patch_map.flatten(2).transpose(1, 2), ref) < 1e-5
        assert _rel(cls_token, ref_cls) < 1e-5
    rel_depth = out.rel_depth
    assert rel_depth.shape == (1, 1, 42, 70)  # 14x the patch grid
    assert out.out_conv.shape == (1, 32, 42, 70)
    # the pyramid the U-Net branch reads: l4_rn (grid / 2), r4 .. r1
    assert [tuple(x.shape[-2:]) for x in out.pyramid()] == [
        (2, 3), (3, 5), (6, 10), (12, 20), (24, 40)]
    assert _rel(rel_depth[:, 0], vector['rel_depth']) < 1e-5


def test_pos_embed_is_not_timms_size_based_resampling(vector):
    """timm's own resampling (to a target size) gives other values: the
    backbone must not use it."""
    from timm.layers import resample_abs_pos_embed
    core = _core()
    core.load_state_dict(convert_depth_anything_keys(vector['state_dict']))
    with torch.no_grad():
        timm_pos = resample_abs_pos_embed(
            core.backbone.model.pos_embed, (3, 5), num_prefix_tokens=1)
    assert _rel(timm_pos, vector['pos_embed_42x70']) > 1e-3
    # square input at the trained grid: the parameter itself
    assert core.backbone.pos_embed_for(56, 56) is \
        core.backbone.model.pos_embed


def test_backbone_crops_remainder_and_checks_indices():
    backbone = MODELS.build(TINY_BACKBONE).eval()
    with torch.no_grad():
        a = backbone(torch.ones(1, 3, 42, 70))
        b = backbone(torch.ones(1, 3, 50, 80))  # 3x5 patches + remainder
    for (pa, ca), (pb, cb) in zip(a, b):
        assert torch.equal(pa, pb) and torch.equal(ca, cb)
    with pytest.raises(ValueError, match='out_indices'):
        MODELS.build(dict(TINY_BACKBONE, out_indices=(0, 1, 2, 4)))
    with pytest.raises(ValueError, match='give out_indices'):
        MODELS.build(dict(TINY_BACKBONE, out_indices=None))
    with pytest.raises(ValueError, match='never downloads'):
        MODELS.build(dict(TINY_BACKBONE, pretrained=True))


def test_converter_drops_mask_token_and_names_unknown_keys(vector):
    sd = dict(vector['state_dict'])
    assert 'pretrained.mask_token' in sd
    assert depth_anything_dropped_keys(sd) == {
        'pretrained.mask_token': pytest.approx(
            depth_anything_dropped_keys(sd)['pretrained.mask_token'])}
    converted = convert_depth_anything_keys(sd)
    assert len(converted) == len(sd) - 1
    assert not any('mask_token' in k for k in converted)
    sd['depth_head.scratch.output_conv3.weight'] = torch.zeros(1)
    sd['pretrained.blocks.0.attn.k_norm.weight'] = torch.zeros(1)
    with pytest.raises(CheckpointConversionError) as err:
        convert_depth_anything_keys(sd)
    assert 'depth_head.scratch.output_conv3.weight' in str(err.value)
    assert 'pretrained.blocks.0.attn.k_norm.weight' in str(err.value)
    with pytest.raises(CheckpointConversionError, match='depth_head'):
        convert_depth_anything_keys(
            {k: v for k, v in vector['state_dict'].items()
             if k.startswith('pretrained.')})


def _tiny_metric_model():
    from mmengine.registry import init_default_scope
    init_default_scope('mmzoe')
    cfg = Config.fromfile(
        osp.join(HERE, 'configs', 'segdistill_da_tiny.py'))
    cfg.model.auxiliary_head = None
    cfg.model.backbone = TINY_BACKBONE
    cfg.model.neck = TINY_NECK
    cfg.model.decode_head.in_channels = 8
    cfg.model.decode_head.out_conv_channels = 32
    return MODELS.build(cfg.model).eval()


def test_metric_converter_places_core_and_head(vector):
    """A ZoeDepth-layout checkpoint with the DA model under core.core. (as
    depth_anything_metric_depth_*.pt) becomes the full mmzoe model."""
    model = _tiny_metric_model()
    upstream = {f'core.core.{k}': v for k, v in vector['state_dict'].items()}
    head = {k[len('decode_head.'):]: v.clone()
            for k, v in model.state_dict().items()
            if k.startswith('decode_head.')}
    upstream.update(head)
    converted = convert_depth_anything_metric_keys(upstream)
    assert depth_anything_dropped_keys(upstream, 'core.core.') != {}
    check_against_model_keys(converted, model.state_dict())
    model.load_state_dict(converted, strict=True)
    with torch.no_grad():
        depth = model.forward_depths(vector['input'])['depth']
    assert depth.shape[-2:] == (42, 70) and torch.isfinite(depth).all()
    upstream['core.core.depth_head.projects.4.weight'] = torch.zeros(1)
    upstream['conv3.weight'] = torch.zeros(1)
    with pytest.raises(CheckpointConversionError) as err:
        convert_depth_anything_metric_keys(upstream)
    assert 'core.core.depth_head.projects.4.weight' in str(err.value)
    assert 'conv3.weight' in str(err.value)


# (image H, W), (size, keep_ratio, resize_method) -> network size, computed
# by upstream Depth Anything V2's util.transform.Resize (multiple of 14)
UPSTREAM_SIZES = [
    ((480, 640), ((518, 518), True, 'lower_bound'), (518, 686)),
    ((375, 1242), ((518, 518), True, 'lower_bound'), (518, 1722)),
    ((700, 300), ((518, 518), True, 'lower_bound'), (1204, 518)),
    ((1080, 1920), ((392, 518), True, 'minimal'), (392, 700)),
    ((700, 300), ((392, 518), True, 'minimal'), (392, 168)),
    ((375, 1242), ((518, 518), True, 'upper_bound'), (154, 518)),
    ((1080, 1920), ((518, 518), True, 'upper_bound'), (294, 518)),
    ((480, 640), ((392, 518), False, 'minimal'), (392, 518)),
]


@pytest.mark.parametrize('image,opts,expected', UPSTREAM_SIZES)
def test_preprocessor_network_size_as_upstream(image, opts, expected):
    size, keep_ratio, method = opts
    dp = MODELS.build(
        dict(type='ZoeDepthDataPreProcessor', size=size,
             keep_ratio=keep_ratio, resize_method=method, size_divisor=14))
    assert dp.network_size(*image) == expected
    out = dp.prepare_batch(torch.zeros(1, 3, *image))
    assert tuple(out.shape[-2:]) == expected


def test_preprocessor_defaults_unchanged():
    dp = MODELS.build(dict(type='ZoeDepthDataPreProcessor', size=(40, 56)))
    assert dp.network_size(480, 640) == (40, 56)
    img = torch.rand(1, 3, 48, 64) * 255
    ref = (torch.nn.functional.interpolate(
        img / 255, size=(40, 56), mode='bilinear', align_corners=True) -
        0.5) / 0.5
    assert torch.equal(dp.prepare_batch(img), ref)
    with pytest.raises(ValueError, match='interpolation'):
        MODELS.build(dict(type='ZoeDepthDataPreProcessor',
                          interpolation='area'))


def test_vits_core_parameter_count_equals_upstream():
    """Upstream DepthAnythingV2('vits') has 24,785,089 parameters, 384 of
    them the dropped mask_token (tools/analysis_tools/
    depth_anything_equivalence.py prints both)."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'models', 'zoedepth_da_vits.py'))
    with torch.device('meta'):
        backbone = MODELS.build(cfg.model.backbone)
        neck = MODELS.build(cfg.model.neck)
    n = sum(p.numel() for m in (backbone, neck) for p in m.parameters())
    assert n == 24_785_089 - 384
