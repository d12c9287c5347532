"""Tests of the MiDaS SwinV2 DPT core: backbone, neck, converters, counts."""
import importlib.util
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmzoe.models.backbones import ZoeSwinV2
from mmzoe.models.necks import ZoeDPTNeck
from mmzoe.models.utils import (CheckpointConversionError,
                                check_against_model_keys, convert_midas_keys,
                                convert_zoedepth_head_keys,
                                convert_zoedepth_keys, unwrap_state_dict)
from mmzoe.registry import MODELS
from mmzoe.utils import register_all_modules

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / 'data'
BASE_CFG = ROOT / 'configs/_base_/models/zoedepth_swin2b.py'
TINY_CFG = ROOT / 'configs/_base_/models/zoedepth_tiny.py'

register_all_modules(init_default_scope=True)
torch.set_num_threads(1)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _read_key_list(name: str) -> dict:
    """Tensors with the names/shapes/dtypes of an upstream key list, each
    filled with its own index (distinct, cheap, never NaN)."""
    out = {}
    lines = [ln for ln in (DATA / name).read_text().splitlines() if ln]
    for i, line in enumerate(lines):
        key, shape, dtype = line.split('\t')
        shape = tuple(int(s) for s in re.findall(r'\d+', shape))
        out[key] = torch.full(shape, i, dtype=getattr(torch, dtype))
    return out


@pytest.fixture(scope='module')
def base_model():
    cfg = Config.fromfile(str(BASE_CFG))
    return MODELS.build(cfg.model)


def _tiny_model():
    cfg = Config.fromfile(str(TINY_CFG))
    return MODELS.build(cfg.model)


# ----------------------------------------------------------------- counts
def test_base_parameter_counts(base_model):
    # ZoeDepth spec §5 (measured upstream, timm 0.6.13) and §10.22.
    assert _count(base_model.backbone) == 86_891_768
    # refinenet4.resConfUnit1 is kept (strict upstream loading).
    assert _count(base_model.neck) == 14_460_097
    assert _count(base_model.decode_head) == 478_145
    frozen = [n for n, p in base_model.named_parameters()
              if not p.requires_grad]
    assert frozen and all(
        n.startswith('neck.refinenet4.resConfUnit1.') for n in frozen)
    assert sum(base_model.state_dict()[n].numel()
               for n in frozen) == 14_460_097 - 13_279_937


# ------------------------------------------------------------- converters
def test_midas_checkpoint_converts_and_loads_strictly(base_model):
    midas = _read_key_list('midas_swin2b_keys.txt')
    assert len(midas) == 477
    core = convert_midas_keys(midas)
    target = base_model.state_dict()
    check_against_model_keys(core, target, prefixes=('backbone.', 'neck.'))
    assert 'backbone.model.layers.1.downsample.reduction.weight' in core
    assert 'backbone.model.layers.0.downsample.reduction.weight' not in core
    assert torch.equal(
        core['backbone.model.layers.3.downsample.reduction.weight'],
        midas['pretrained.model.layers.2.downsample.reduction.weight'])
    assert torch.equal(core['neck.relative_head.conv3.weight'],
                       midas['scratch.output_conv.4.weight'])


def test_zoedepth_checkpoint_converts_and_loads_strictly(base_model):
    zoe = _read_key_list('zoe_swin2b_keys.txt')
    assert len(zoe) == 525
    # Trainer layout with a DDP prefix.
    wrapped = {'model': {'module.' + k: v for k, v in zoe.items()},
               'optimizer': None, 'epoch': 3}
    full = convert_zoedepth_keys(unwrap_state_dict(wrapped))
    base_model.load_state_dict(full, strict=True)
    sd = base_model.state_dict()
    assert torch.equal(sd['decode_head.conditional_log_binomial.mlp.0.weight'],
                       zoe['conditional_log_binomial.mlp.0.weight'])
    assert torch.equal(sd['decode_head.conv2.bias'], zoe['conv2.bias'])


def test_conversion_reports_unknown_and_missing_keys_by_name(base_model):
    zoe = _read_key_list('zoe_swin2b_keys.txt')
    bad = dict(zoe)
    bad['core.core.scratch.refinenet9.out_conv.weight'] = torch.zeros(1)
    bad['core.core.pretrained.model.layers.0.blocks.0.attn.foo'] = \
        torch.zeros(1)
    bad['seed_bin_regressor.extra'] = torch.zeros(1)
    with pytest.raises(CheckpointConversionError) as err:
        convert_zoedepth_keys(bad)
    msg = str(err.value)
    for key in ('core.core.scratch.refinenet9.out_conv.weight',
                'core.core.pretrained.model.layers.0.blocks.0.attn.foo',
                'seed_bin_regressor.extra'):
        assert key in msg
    assert '3 key(s)' in msg

    with pytest.raises(CheckpointConversionError, match='conv9.weight'):
        convert_zoedepth_head_keys({'conv9.weight': torch.zeros(1)})

    # A missing key and a wrong shape are named when checked against a model.
    full = convert_zoedepth_keys(zoe)
    del full['neck.refinenet2.out_conv.bias']
    full['decode_head.conv2.weight'] = torch.zeros(3)
    with pytest.raises(CheckpointConversionError) as err:
        check_against_model_keys(full, base_model.state_dict())
    msg = str(err.value)
    assert 'neck.refinenet2.out_conv.bias' in msg
    assert 'decode_head.conv2.weight' in msg


def test_head_key_mapping_is_identity_plus_prefix():
    keys = [k for k in _read_key_list('zoe_swin2b_keys.txt')
            if not k.startswith('core.')]
    assert len(keys) == 48
    out = convert_zoedepth_head_keys({k: torch.zeros(1) for k in keys})
    assert sorted(out) == sorted('decode_head.' + k for k in keys)


def _load_tool(name: str):
    path = ROOT / 'tools' / 'model_converters' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _to_upstream_midas(model) -> dict:
    """Independent reverse mapping: mmzoe core keys -> MiDaS timm-0.6 keys,
    plus the tensors upstream files carry but we drop."""
    out = {}
    rel = {'conv1': '0', 'conv2': '2', 'conv3': '4'}
    for key, value in model.state_dict().items():
        if key.startswith('backbone.model.'):
            k = key[len('backbone.model.'):]
            m = re.match(r'layers\.(\d+)\.downsample\.(.*)', k)
            if m:
                k = f'layers.{int(m.group(1)) - 1}.downsample.{m.group(2)}'
            out['pretrained.model.' + k] = value.clone()
        elif key.startswith('neck.relative_head.'):
            name, param = key[len('neck.relative_head.'):].split('.')
            out[f'scratch.output_conv.{rel[name]}.{param}'] = value.clone()
        elif key.startswith('neck.'):
            out['scratch.' + key[len('neck.'):]] = value.clone()
    c = model.backbone.out_channels[-1]
    out['pretrained.model.norm.weight'] = torch.ones(c)
    out['pretrained.model.norm.bias'] = torch.zeros(c)
    out['pretrained.model.head.weight'] = torch.zeros(1000, c)
    out['pretrained.model.head.bias'] = torch.zeros(1000)
    out['pretrained.model.layers.0.blocks.1.attn_mask'] = torch.zeros(4, 4, 4)
    return out


def test_midas_cli_roundtrip_reproduces_core(tmp_path):
    midas_to_mmzoe = _load_tool('midas_to_mmzoe')
    torch.manual_seed(0)
    src_model = _tiny_model().eval()
    with torch.no_grad():  # make SwinV2 blocks non-identity (spec §10.21)
        for name, p in src_model.named_parameters():
            p.add_(0.05 * torch.randn_like(p))
    upstream = _to_upstream_midas(src_model)
    src = tmp_path / 'midas.pt'
    torch.save(upstream, src)
    dst = tmp_path / 'core.pth'
    assert midas_to_mmzoe.main([str(src), str(dst)]) == 0

    model = _tiny_model().eval()
    model.core_checkpoint = str(dst)
    model.init_weights()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = src_model.neck(src_model.backbone(x))
        out = model.neck(model.backbone(x))
    for a, b in zip(ref.pyramid() + (ref.out_conv, ref.rel_depth),
                    out.pyramid() + (out.out_conv, out.rel_depth)):
        assert torch.equal(a, b)

    # A missing source key is named by the CLI (exit code 1).
    del upstream['scratch.layer2_rn.weight']
    upstream['scratch.layer5_rn.weight'] = torch.zeros(1)
    torch.save(upstream, src)
    assert midas_to_mmzoe.main([str(src), str(tmp_path / 'x.pth')]) == 1


# ---------------------------------------------------------------- backbone
def test_backbone_taps_stages_before_merging_without_norm():
    torch.manual_seed(0)
    bb = ZoeSwinV2(
        arch='swinv2_tiny_window8_256', img_size=64, embed_dim=16,
        depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4), window_size=4,
        drop_path_rate=0.0).eval()
    assert not isinstance(bb.model.norm, torch.nn.LayerNorm)
    with torch.no_grad():
        for p in bb.parameters():
            p.add_(0.05 * torch.randn_like(p))
    # Independent tap: the input of each PatchMerging (NHWC) and the output
    # of the last block of the last stage.
    taps = []
    hooks = [
        bb.model.layers[i].downsample.register_forward_pre_hook(
            lambda m, a: taps.append(a[0].permute(0, 3, 1, 2)))
        for i in (1, 2, 3)
    ]
    hooks.append(bb.model.layers[3].blocks[-1].register_forward_hook(
        lambda m, a, o: taps.append(o.permute(0, 3, 1, 2))))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        outs = bb(x)
    for h in hooks:
        h.remove()
    assert [tuple(o.shape) for o in outs] == [(2, 16, 16, 16), (2, 32, 8, 8),
                                              (2, 64, 4, 4), (2, 128, 2, 2)]
    for o, t in zip(outs, taps):
        assert torch.equal(o, t)
    with pytest.raises(ValueError, match='fixed-size'):
        bb(torch.randn(1, 3, 96, 64))
    with pytest.raises(ValueError, match='pretrained'):
        ZoeSwinV2(pretrained=True)
    with pytest.raises(ValueError, match='attention'):
        ZoeSwinV2(arch='swinv2_tiny_window8_256', img_size=64, embed_dim=16,
                  depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1),
                  window_size=4, attn_impl='nope')


# -------------------------------------------------------------------- neck
def _ref_rcu(sd, pre, x):
    out = F.conv2d(F.relu(x), sd[pre + 'conv1.weight'],
                   sd[pre + 'conv1.bias'], padding=1)
    out = F.conv2d(F.relu(out), sd[pre + 'conv2.weight'],
                   sd[pre + 'conv2.bias'], padding=1)
    return out + x


def _ref_fusion(sd, pre, x, skip=None, size=None):
    if skip is not None:
        x = x + _ref_rcu(sd, pre + 'resConfUnit1.', skip)
    x = _ref_rcu(sd, pre + 'resConfUnit2.', x)
    if size is None:
        size = (2 * x.shape[2], 2 * x.shape[3])
    x = F.interpolate(x, size=size, mode='bilinear', align_corners=True)
    return F.conv2d(x, sd[pre + 'out_conv.weight'], sd[pre + 'out_conv.bias'])


def test_neck_matches_reference_dpt_wiring():
    torch.manual_seed(0)
    neck = ZoeDPTNeck(
        in_channels=[4, 8, 12, 16], channels=8,
        relative_head=dict(type='ZoeRelativeDepthHead', feat_channels=5))
    sd = neck.state_dict()
    # Non-square, non-384 inputs: sizes follow the features.
    feats = [torch.randn(2, c, h, w) for c, (h, w) in zip(
        [4, 8, 12, 16], [(12, 20), (6, 10), (3, 5), (2, 3)])]
    with torch.no_grad():
        out = neck(feats)
        ls = [F.conv2d(f, sd[f'layer{i + 1}_rn.weight'], padding=1)
              for i, f in enumerate(feats)]
        r4 = _ref_fusion(sd, 'refinenet4.', ls[3], size=ls[2].shape[2:])
        r3 = _ref_fusion(sd, 'refinenet3.', r4, ls[2], size=ls[1].shape[2:])
        r2 = _ref_fusion(sd, 'refinenet2.', r3, ls[1], size=ls[0].shape[2:])
        r1 = _ref_fusion(sd, 'refinenet1.', r2, ls[0])
        h = F.conv2d(r1, sd['relative_head.conv1.weight'],
                     sd['relative_head.conv1.bias'], padding=1)
        h = F.interpolate(h, scale_factor=2, mode='bilinear',
                          align_corners=True)
        feat = F.relu(F.conv2d(h, sd['relative_head.conv2.weight'],
                               sd['relative_head.conv2.bias'], padding=1))
        rel = F.relu(F.conv2d(feat, sd['relative_head.conv3.weight'],
                              sd['relative_head.conv3.bias']))
    ref = (ls[3], r4, r3, r2, r1, feat, rel)
    got = (out.bottleneck, *out.decoder, out.out_conv, out.rel_depth)
    for a, b in zip(got, ref):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert out.decoder[3].shape[-2:] == (24, 40)
    assert out.rel_depth.shape == (2, 1, 48, 80)
    assert (out.rel_depth >= 0).all()
    # mmseg's in_index view: the pyramid, coarse to fine
    assert len(out) == 5 and out[0] is out.bottleneck
    assert out[4] is out.decoder[3]


def test_zoedepth_cli_roundtrip_reproduces_full_model(tmp_path):
    zoedepth_to_mmzoe = _load_tool('zoedepth_to_mmzoe')
    torch.manual_seed(1)
    src_model = _tiny_model().eval()
    with torch.no_grad():
        for p in src_model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    upstream = {'core.core.' + k: v
                for k, v in _to_upstream_midas(src_model).items()}
    for k, v in src_model.state_dict().items():
        if k.startswith('decode_head.'):
            upstream[k[len('decode_head.'):]] = v.clone()
    src = tmp_path / 'zoe.pt'
    torch.save({'model': {'module.' + k: v for k, v in upstream.items()},
                'optimizer': None, 'epoch': 1}, src)
    dst = tmp_path / 'zoe_mmzoe.pth'
    assert zoedepth_to_mmzoe.main([str(src), str(dst)]) == 0
    model = _tiny_model().eval()
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model._forward(x), src_model._forward(x))
