"""``ZoeBEiT(fused_eval=True)``: the eval path of the BEiT blocks
(``beit_eval.py``) computes the plain blocks' function and steps aside
wherever it does not apply (training, gradients, float64, autocast, FLOP
counting). Tiny 32-wide BEiTs only, no timing.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch.utils.flop_counter import FlopCounterMode

import mmzoe.models.backbones.zoe_beit as zoe_beit
from mmzoe.models.backbones import ZoeBEiT
from mmzoe.models.backbones.beit_eval import block_forward_eval
from mmzoe.models.speed_switches import (SWITCHES_BY_NAME, get_switch,
                                         reference_config, set_switch)

from zoe_testing import REPO

BEIT_CFG = osp.join(REPO, 'configs/_base_/models/zoedepth_beitl384.py')
SWIN_CFG = osp.join(REPO, 'configs/_base_/models/zoedepth_swin2b.py')
DA_CFG = osp.join(REPO, 'configs/_base_/models/zoedepth_da_vitl.py')
RTOL = 1e-5
TINY = dict(
    out_indices=(0, 1, 2, 3), img_size=64, embed_dim=32, depth=4,
    num_heads=2)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _pair(init_values=0.3, **kw):
    """A plain and a fused-eval tiny BEiT with the same perturbed weights
    (layer scale, biases and position tables away from their init)."""
    torch.manual_seed(0)
    plain = ZoeBEiT(init_values=init_values, **TINY, **kw)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in plain.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen))
    fused = ZoeBEiT(init_values=init_values, fused_eval=True, **TINY, **kw)
    fused.load_state_dict(plain.state_dict(), strict=True)
    return plain.eval(), fused.eval()


class _Count:
    """Counts the calls of ``block_forward_eval`` in ``zoe_beit``."""

    def __init__(self, monkeypatch):
        self.calls = 0

        def counted(*args, **kwargs):
            self.calls += 1
            return block_forward_eval(*args, **kwargs)

        monkeypatch.setattr(zoe_beit, 'block_forward_eval', counted)


def _input(h=64, w=96, dtype=torch.float32):
    gen = torch.Generator().manual_seed(2)
    return torch.randn(1, 3, h, w, generator=gen).to(dtype)


@pytest.mark.parametrize('kw, hw', [
    (dict(toeplitz_bias=True), (64, 96)),  # resized tables (4x6 grid)
    (dict(toeplitz_bias=True), (64, 64)),  # the tables' own grid
    (dict(toeplitz_bias=False), (64, 96)),
    (dict(attn_impl='timm'), (48, 80)),
    (dict(toeplitz_bias=True, init_values=None), (64, 96)),
])
def test_fused_eval_matches_plain(kw, hw, monkeypatch):
    plain, fused = _pair(**kw)
    count = _Count(monkeypatch)
    x = _input(*hw)
    with torch.no_grad():
        ref = plain(x)
        for _ in range(2):  # second call: cached resized tables
            out = fused(x)
            for (p, c), (p_ref, c_ref) in zip(out, ref):
                assert p.shape == p_ref.shape and c.shape == c_ref.shape
                assert _rel(p, p_ref) < RTOL and _rel(c, c_ref) < RTOL
    assert count.calls == 2 * len(fused.model.blocks)
    # the hooked outputs of earlier blocks are not overwritten later
    assert not torch.equal(out[0][0], out[1][0])


@pytest.mark.parametrize('batch', [1, 2])
def test_block_eval_keeps_its_input_and_equals_the_block(batch):
    plain, _ = _pair()
    block = plain.model.blocks[1]
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(batch, 4 * 6 + 1, 32, generator=gen)
    before = x.clone()
    with torch.no_grad():
        out = block_forward_eval(block, x, (4, 6))
        ref = ZoeBEiT._block(block, x, (4, 6))
    assert torch.equal(x, before)
    assert _rel(out, ref) < RTOL


@pytest.mark.parametrize('grid', [(4, 6), (3, 5), (4, 4), (1, 1)])
def test_key_reversed_bias_is_the_gathered_bias(grid):
    plain, _ = _pair(toeplitz_bias=True)
    attn = plain.model.blocks[0].attn
    n = grid[0] * grid[1]
    order = attn._reversed_order(n, torch.device('cpu'))
    with torch.no_grad():
        gathered = attn.rel_pos_bias(grid)
        strided = attn.toeplitz_key_bias(grid)
    assert torch.equal(strided, gathered[..., order])


def test_fused_eval_steps_aside(monkeypatch):
    plain, fused = _pair()
    count = _Count(monkeypatch)
    x = _input()
    # with gradients (eval mode): the plain blocks, identical values
    xg = x.clone().requires_grad_()
    out = fused(xg)
    assert count.calls == 0
    assert all(torch.equal(a[0], b[0]) for a, b in zip(out, plain(x)))
    out[-1][0].sum().backward()
    assert xg.grad is not None
    with torch.no_grad():
        # training mode
        fused.train()
        plain.train()
        assert all(torch.equal(a[0], b[0]) for a, b in zip(fused(x), plain(x)))
        fused.eval()
        plain.eval()
        # float64
        out64 = fused.double()(x.double())
        assert count.calls == 0 and out64[0][0].dtype == torch.float64
        fused.float()
        # autocast
        with torch.autocast('cpu', dtype=torch.bfloat16):
            fused(x)
        assert count.calls == 0
        # FLOP counting sees the plain operators: the plain model's count
        counts = []
        for model in (plain, fused):
            with FlopCounterMode(display=False) as flops:
                model(x)
            counts.append(flops.get_total_flops())
        assert count.calls == 0 and counts[0] == counts[1] > 0
        # and in eval without gradients it runs
        fused(x)
    assert count.calls == len(fused.model.blocks)


def test_state_dict_unchanged():
    plain, fused = _pair()
    assert list(plain.state_dict()) == list(fused.state_dict())
    assert not ZoeBEiT(**TINY).fused_eval


def test_fused_eval_switch_sets_beit_and_swin_backbones_only():
    switch = SWITCHES_BY_NAME['fused_eval']
    beit = Config.fromfile(BEIT_CFG)
    assert beit.model.backbone.fused_eval is True
    assert get_switch(beit, 'fused_eval') is switch.shipped is True
    ref = reference_config(beit)
    assert ref.model.backbone.fused_eval is False
    assert ref.model.neck.fused_eval is False
    # attn_impl / bias_cache stay SwinV2 switches
    assert ref.model.backbone.attn_impl == 'sdpa'
    assert 'bias_cache' not in ref.model.backbone
    swin = Config.fromfile(SWIN_CFG)
    set_switch(swin, 'fused_eval', False)
    assert swin.model.backbone.fused_eval is False
    da = Config.fromfile(DA_CFG)
    set_switch(da, 'fused_eval', True)
    assert 'fused_eval' not in da.model.backbone
