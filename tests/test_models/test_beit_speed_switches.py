"""Speed switches of the BEiT core and the ViT reassemble stage
(``toeplitz_bias``, ``split_readout``): same function as the switches
off, shipped on in the BEiT configs, off in the code (no timing here;
``toeplitz_bias`` on the SwinV2 core: test_swinv2_strided_bias.py).

Tiny models only (a 32-wide BEiT, grids of 3x5 / 4x6 tokens whose bias
tables are resized as MiDaS does).
"""
import inspect
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from timm.models.beit import Attention

from mmzoe.models.backbones import ZoeBEiT
from mmzoe.models.backbones.beit_attention import ZoeBEiTAttention
from mmzoe.models.necks import ZoeViTReassemble
from mmzoe.models.speed_switches import (SWITCHES_BY_NAME, get_switch,
                                         reference_config, set_switch)
from mmzoe.registry import MODELS
from mmzoe.utils import register_all_modules

from zoe_testing import REPO

BEIT_CFG = osp.join(REPO, 'configs/_base_/models/zoedepth_beitl384.py')
SWIN_CFG = osp.join(REPO, 'configs/_base_/models/zoedepth_swin2b.py')
TINY_CFG = osp.join(REPO, 'tests/configs/zoe_beit_tiny.py')
NAMES = ('toeplitz_bias', 'split_readout')

register_all_modules()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def _perturbed_attention(**kw) -> ZoeBEiTAttention:
    torch.manual_seed(0)
    ref = Attention(32, num_heads=2, qkv_bias=True, window_size=(4, 4))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen))
    return ZoeBEiTAttention.from_timm(ref, **kw)


@pytest.mark.parametrize('grid', [(4, 4), (3, 5), (5, 2), (1, 1)])
def test_toeplitz_bias_is_the_gathered_bias_with_queries_reversed(grid):
    attn = _perturbed_attention(toeplitz_bias=True).eval()
    n = grid[0] * grid[1]
    order = attn._reversed_order(n, torch.device('cpu'))
    assert order.tolist() == [0] + list(range(n, 0, -1))
    with torch.no_grad():
        gathered = attn.rel_pos_bias(grid)
        strided = attn.toeplitz_rel_pos_bias(grid)
    assert strided.shape == gathered.shape == (1, 2, n + 1, n + 1)
    # the same values, copied: exact
    assert torch.equal(strided, gathered[:, :, order])


@pytest.mark.parametrize('grid', [(4, 4), (3, 5)])
def test_toeplitz_attention_matches_explicit_eval_and_training(grid):
    explicit = _perturbed_attention(fused=False)
    fast = _perturbed_attention(toeplitz_bias=True)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, grid[0] * grid[1] + 1, 32, generator=gen)
    for mode in ('eval', 'train'):
        explicit.train(mode == 'train')
        fast.train(mode == 'train')
        with torch.no_grad():
            ref = explicit(x, grid)
            out = fast(x, grid)
            again = fast(x, grid)  # cached table in eval
        assert _rel(out, ref) < 1e-5, mode
        assert torch.equal(out, again)
    # gradients (trainable table: the custom backward of the fused path)
    weights = torch.linspace(-1, 1, 32)
    grads = []
    for mod in (explicit, fast):
        mod.train()
        mod.zero_grad()
        xi = x.clone().requires_grad_()
        (mod(xi, grid) * weights).square().sum().backward()
        grads.append((xi.grad, {
            n: p.grad.clone() for n, p in mod.named_parameters()}))
    assert _rel(grads[1][0], grads[0][0]) < 1e-4
    table = 'relative_position_bias_table'
    assert grads[0][1][table].abs().sum() > 0
    for name, g in grads[0][1].items():
        assert _rel(grads[1][1][name], g) < 1e-4, name


def test_toeplitz_bias_follows_table_updates_in_eval():
    attn = _perturbed_attention(toeplitz_bias=True).eval()
    with torch.no_grad():
        first = attn.toeplitz_rel_pos_bias((3, 5)).clone()
        attn.relative_position_bias_table.add_(1.0)
        assert torch.allclose(attn.toeplitz_rel_pos_bias((3, 5)), first + 1)


@pytest.mark.parametrize('batch', [1, 2])
def test_split_readout_matches_concatenation(batch):
    torch.manual_seed(0)
    kw = dict(in_channels=32, out_channels=[8, 16, 32, 32])
    ref = ZoeViTReassemble(**kw)
    fast = ZoeViTReassemble(split_readout=True, **kw)
    fast.load_state_dict(ref.state_dict())
    gen = torch.Generator().manual_seed(3)
    levels = [(torch.randn(batch, 32, 3, 5, generator=gen),
               torch.randn(batch, 32, generator=gen)) for _ in range(4)]
    outs = [mod(levels) for mod in (ref, fast)]
    for a, b in zip(*outs):
        assert a.shape == b.shape and _rel(b, a) < 1e-5
    # same gradients for the split weight
    grads = []
    for mod, out in zip((ref, fast), outs):
        mod.zero_grad()
        sum(o.square().sum() for o in out).backward()
        grads.append(mod.readout_projects[0][0].weight.grad.clone())
    assert _rel(grads[1], grads[0]) < 1e-4


def test_tiny_beit_model_within_switch_tolerance():
    """The tiny BEiT ZoeDepth with the shipped switches against the same
    weights with every switch off (upstream's order of operations)."""
    cfg = Config.fromfile(TINY_CFG)
    for name in NAMES:
        assert get_switch(cfg, name) is True, name
    torch.manual_seed(0)
    fast = MODELS.build(cfg.model).eval()
    ref = MODELS.build(reference_config(cfg).model).eval()
    assert ref.backbone.attn_impl == 'sdpa'  # (not a SwinV2 switch)
    attn = fast.backbone.model.blocks[0].attn
    assert attn.toeplitz_bias and fast.neck.reassemble.split_readout
    assert not ref.backbone.model.blocks[0].attn.toeplitz_bias
    assert not ref.neck.reassemble.split_readout
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for p in fast.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    assert list(ref.state_dict()) == list(fast.state_dict())
    ref.load_state_dict(fast.state_dict(), strict=True)
    x = torch.rand(1, 3, 64, 96, generator=gen) * 2 - 1  # 4x6 grid
    with torch.no_grad():
        depth_ref = ref.forward_depths(x, flip=False)['depth']
        for _ in range(2):  # second call: cached tables
            depth = fast.forward_depths(x, flip=False)['depth']
            rel = float(((depth - depth_ref).abs() / depth_ref).max())
            assert rel < min(SWITCHES_BY_NAME[n].rtol for n in NAMES), rel


def test_switch_list_entries():
    beit = Config.fromfile(BEIT_CFG)
    swin = Config.fromfile(SWIN_CFG)
    for name in NAMES:
        switch = SWITCHES_BY_NAME[name]
        assert get_switch(beit, name) == switch.shipped is True
        assert reference_config(beit) is not beit
        assert get_switch(reference_config(beit), name) == switch.off
    # parts of other types neither get nor report the key
    assert get_switch(swin, 'split_readout') is False
    set_switch(swin, 'split_readout', True)
    assert get_switch(swin, 'split_readout') is False
    assert swin.model.neck.get('reassemble') is None
    # code defaults are the switches' off values
    for cls, arg in ((ZoeBEiT, 'toeplitz_bias'),
                     (ZoeViTReassemble, 'split_readout')):
        assert inspect.signature(cls).parameters[arg].default is False
