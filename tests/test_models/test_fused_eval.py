"""The ``fused_eval`` speed switch computes the plain model's function.

Tolerances (mmzoe/models/speed_switches.py): a fused convolution gives the
values of oneDNN's plain convolution (bit for bit where torch picks oneDNN
for the plain one too), fused linear layers and the reordered DPT 1x1
convolutions differ by rounding only; the whole model's depth stays within
1e-5 relative of the same weights with the switch off. With gradients
recorded (or in training mode) the plain code runs, bit for bit.
"""
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from timm.models.swin_transformer_v2 import (PatchMerging,
                                             SwinTransformerV2Block,
                                             window_partition)

from mmzoe.models.backbones import ZoeSwinV2FusedAttention
from mmzoe.models.backbones.swinv2_fused_attention import mask_runs
from mmzoe.models.backbones.swinv2_eval import (block_eval_applies,
                                                block_forward_eval,
                                                downsample_eval,
                                                window_order)
from mmzoe.models.layers import ZoeFeatureFusionBlock, ZoeResidualConvUnit
from mmzoe.models.layers.zoe_bins import _mlp, mlp_forward
from mmzoe.models.speed_switches import (SWITCHES_BY_NAME, reference_config,
                                         set_switch)
from mmzoe.models.utils import perturb_weights
from mmzoe.models.utils.fused_eval import (conv2d_eval, fused_eval_enabled,
                                           linear_eval)
from mmzoe.registry import MODELS
from mmzoe.utils import register_all_modules

from zoe_testing import REPO

TINY_CFG = osp.join(REPO, 'configs/_base_/models/zoedepth_tiny.py')
RTOL = SWITCHES_BY_NAME['fused_eval'].rtol

register_all_modules()
pytestmark = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason='needs oneDNN')


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Max abs difference relative to the reference's max magnitude."""
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('relu,add', [(False, False), (True, False),
                                      (False, True), (True, True)])
def test_fused_conv_is_bit_identical(channels_last, relu, add):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 8, 3, padding=1)
    x = torch.randn(2, 8, 6, 7)
    other = torch.randn(2, 8, 6, 7)  # contiguous even for a CL conv
    if channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    ref = conv(x)
    if add:
        ref = ref + other
    if relu:
        ref = F.relu(ref)
    with torch.no_grad():
        assert fused_eval_enabled(x, conv.weight)
        out = conv2d_eval(x, conv, relu=relu, add=other if add else None)
    assert out.shape == ref.shape
    assert torch.equal(out, ref)


@pytest.mark.parametrize('gelu', [False, True])
def test_fused_linear_within_rounding(gelu):
    torch.manual_seed(0)
    lin = nn.Linear(24, 40)
    x = torch.randn(3, 17, 24)
    ref = F.gelu(lin(x)) if gelu else lin(x)
    with torch.no_grad():
        out = linear_eval(x, lin, gelu=gelu)
    assert _rel(out, ref) < 1e-6


def test_fused_ops_need_no_grad_fp32_cpu():
    lin = nn.Linear(4, 4)
    x = torch.randn(2, 4, requires_grad=True)
    assert not fused_eval_enabled(x, lin.weight)  # grad mode on
    out = linear_eval(x, lin)  # falls back to autograd-able ops
    out.sum().backward()
    assert x.grad is not None
    with torch.no_grad():
        assert fused_eval_enabled(x, lin.weight)
        assert not fused_eval_enabled(x.double(), lin.weight)
        assert not fused_eval_enabled(x, lin.weight.bfloat16())
        with torch.autocast('cpu', dtype=torch.bfloat16):
            assert not fused_eval_enabled(x, lin.weight)


@pytest.mark.parametrize('size', [None, (9, 11)])
@pytest.mark.parametrize('with_skip', [False, True])
def test_fusion_block_eval_matches_forward(size, with_skip):
    torch.manual_seed(0)
    block = ZoeFeatureFusionBlock(16, fused_eval=True).eval()
    x = torch.randn(1, 16, 5, 6)
    skip = torch.randn(1, 16, 5, 6) if with_skip else None
    block.fused_eval = False
    with torch.no_grad():
        ref = block(x, skip, size=size)
        block.fused_eval = True
        out = block(x, skip, size=size)
    assert out.shape == ref.shape
    assert _rel(out, ref) < 1e-6
    # with gradients the plain path runs: bit-identical
    assert torch.equal(block(x, skip, size=size), ref)


def test_residual_unit_eval_matches_forward():
    torch.manual_seed(0)
    unit = ZoeResidualConvUnit(8).eval()
    x, res = torch.randn(1, 8, 5, 5), torch.randn(1, 8, 5, 5)
    with torch.no_grad():
        assert _rel(unit.forward_eval(x), unit(x)) < 1e-6
        assert _rel(unit.forward_eval(x, res), unit(x) + res) < 1e-6


def test_window_order_is_timm_roll_and_partition():
    x = torch.randn(2, 8, 12, 3)
    for shift in ((0, 0), (2, 2), (1, 3)):
        order, inverse = window_order(8, 12, (4, 4), shift, x.device)
        rolled = torch.roll(x, (-shift[0], -shift[1]), (1, 2)) if any(
            shift) else x
        ref = window_partition(rolled, (4, 4)).reshape(2, -1, 3)
        got = x.reshape(2, -1, 3)[:, order]
        assert torch.equal(got, ref)
        assert torch.equal(got[:, inverse], x.reshape(2, -1, 3))


@pytest.mark.parametrize('fused_attn', [False, True])
@pytest.mark.parametrize('shift', [0, 2])
@pytest.mark.parametrize('batch', [1, 2])
def test_swinv2_block_eval_matches_timm(fused_attn, shift, batch):
    torch.manual_seed(0)
    block = SwinTransformerV2Block(
        32, input_resolution=8, num_heads=2, window_size=4,
        shift_size=shift, pretrained_window_size=3)
    perturb_weights(block, 0, attn_noise=0.5)
    if fused_attn:
        block.attn = ZoeSwinV2FusedAttention.from_timm(block.attn)
    block.eval()
    x = torch.randn(batch, 8, 8, 32)
    with torch.no_grad():
        ref = block(x)
        if fused_attn:
            block.attn.fused_eval = True
        assert block_eval_applies(block, x)
        out = block_forward_eval(block, x)
    assert _rel(out, ref) < RTOL


@pytest.mark.parametrize('batch', [1, 2])
def test_shift_mask_runs_match_timm(batch):
    # 3x3 windows: 6 runs of equal masks (zeros, right column, bottom row,
    # corner), one attention call each instead of a (9, h, N, N) bias
    torch.manual_seed(0)
    block = SwinTransformerV2Block(
        32, input_resolution=12, num_heads=2, window_size=4, shift_size=2,
        pretrained_window_size=3)
    perturb_weights(block, 0, attn_noise=0.5)
    mask = block.attn_mask
    assert mask_runs(mask) == [(0, 2, None), (2, 3, 2), (3, 5, None),
                               (5, 6, 5), (6, 8, 6), (8, 9, 8)]
    for start, end, m in mask_runs(mask):
        for w in range(start, end):
            want = torch.zeros_like(mask[w]) if m is None else mask[m]
            assert torch.equal(mask[w], want)
    block.attn = ZoeSwinV2FusedAttention.from_timm(block.attn)
    block.eval()
    x = torch.randn(batch, 12, 12, 32)
    with torch.no_grad():
        ref = block(x)
        block.attn.fused_eval = True
        assert block.attn._runs_of(mask) is not None
        out = block_forward_eval(block, x)
        block.attn._runs_of = lambda m: None  # one call, (9, h, N, N) bias
        full = block_forward_eval(block, x)
    assert _rel(out, ref) < RTOL
    assert _rel(out, full) < 1e-6


@pytest.mark.parametrize('final', [None, nn.ReLU(inplace=True),
                                   nn.Softplus()])
def test_bins_mlp_eval_within_rounding(final):
    torch.manual_seed(0)
    net = _mlp(16, 24, 8, final).eval()
    x = torch.randn(1, 16, 9, 11)
    with torch.no_grad():
        ref = net(x.clone())
        out = mlp_forward(net, x, fused=True)
    assert out.shape == ref.shape and out.is_contiguous()
    assert _rel(out, ref) < 1e-6
    # gradients recorded: the plain modules run (bit for bit)
    assert torch.equal(mlp_forward(net, x, fused=True).detach(), net(x))


def test_patch_merging_eval_is_timm():
    torch.manual_seed(0)
    merge = PatchMerging(8).eval()
    with torch.no_grad():
        for h, w in ((6, 4), (5, 4)):  # even: own path; odd: timm's
            x = torch.randn(2, h, w, 8)
            assert torch.equal(downsample_eval(merge, x), merge(x))


def _tiny(fused: bool, state=None) -> nn.Module:
    cfg = reference_config(Config.fromfile(TINY_CFG))
    cfg.model.backbone.depths = (2, 2, 2, 2)  # shifted windows exercised
    set_switch(cfg, 'attn_impl', 'sdpa')
    set_switch(cfg, 'channels_last', True)
    set_switch(cfg, 'clb_project_condition', True)
    set_switch(cfg, 'fused_expectation', True)
    set_switch(cfg, 'fused_eval', fused)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if state is None:
        perturb_weights(model, 0, attn_noise=0.5)
    else:
        model.load_state_dict(state)
    return model.eval()


def test_whole_model_within_tolerance_and_plain_with_grad():
    ref = _tiny(False)
    model = _tiny(True, ref.state_dict())
    assert model.backbone.fused_eval and model.neck.fused_eval
    assert model.neck.refinenet1.fused_eval
    assert model.neck.relative_head.fused_eval
    assert model.decode_head.fused_eval and not ref.decode_head.fused_eval
    assert all(a.fused_eval for a in model.decode_head.attractors)
    assert model.decode_head.seed_bin_regressor.fused_eval
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    x = x * 2 - 1
    with torch.no_grad():
        want = ref.forward_depths(x, flip=False, with_rel=True)
        got = model.forward_depths(x, flip=False, with_rel=True)
    for key in ('depth', 'rel_depth'):
        rel = float(((got[key] - want[key]).abs() /
                     want[key].abs().clamp_min(1e-6)).max())
        assert rel < RTOL, (key, rel)
    # gradients recorded: the plain code runs (same values, bit for bit)
    with_grad = model.forward_depths(x, flip=False)['depth']
    assert with_grad.requires_grad
    assert torch.equal(with_grad.detach(),
                       ref.forward_depths(x, flip=False)['depth'].detach())
