"""The relative-position bias as strided copies of its table and the table
gradient as offset sums (mmzoe/models/utils/toeplitz_bias.py), against
timm's index gather and autograd's index_add_, alone and inside the fused
SwinV2 attention (forward, eval cache modes, training gradients)."""
import pytest
import torch
from timm.models.swin_transformer_v2 import WindowAttention

from mmzoe.models.backbones import ZoeSwinV2, ZoeSwinV2FusedAttention
from mmzoe.models.utils import perturb_weights
from mmzoe.models.utils.toeplitz_bias import (is_toeplitz_index,
                                              toeplitz_bias, toeplitz_gather,
                                              toeplitz_index,
                                              toeplitz_table_grad)

# square, non-square (both ways), one row, one column, one token
GRIDS = [(4, 4), (3, 5), (5, 2), (1, 4), (4, 1), (1, 1)]


def _timm_index(grid):
    return WindowAttention(8, grid, 2).relative_position_index


def _table(grid, heads=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    size = (2 * grid[0] - 1) * (2 * grid[1] - 1)
    return torch.randn(heads, size, dtype=torch.float64, generator=gen)


def _reversed(grid):
    return torch.arange(grid[0] * grid[1] - 1, -1, -1)


@pytest.mark.parametrize('grid', GRIDS)
def test_strided_bias_equals_the_gather(grid):
    index = _timm_index(grid)
    assert torch.equal(toeplitz_index(grid), index)
    assert is_toeplitz_index(index.to(torch.int32), grid)
    table = _table(grid)
    h, n = table.shape[0], grid[0] * grid[1]
    ref = table[:, index.view(-1)].view(h, n, n)
    assert torch.equal(toeplitz_bias(table, grid).view(h, n, n), ref)
    order = _reversed(grid)
    got = toeplitz_bias(table, grid, 'reversed_queries').reshape(h, n, n)
    assert torch.equal(got, ref[:, order])
    got = toeplitz_bias(table, grid, 'reversed_keys').reshape(h, n, n)
    assert torch.equal(got, ref[:, :, order])
    # into a strided destination (a view into a larger tensor)
    big = table.new_zeros(h, n + 1, n + 1)
    toeplitz_bias(table, grid, out=big[:, 1:, 1:].view(h, *grid, *grid))
    assert torch.equal(big[:, 1:, 1:], ref) and not big[:, 0].any()


@pytest.mark.parametrize('grid', GRIDS)
def test_offset_sums_equal_index_add(grid):
    index = _timm_index(grid)
    table = _table(grid, heads=4)
    h, n = table.shape[0], grid[0] * grid[1]
    grad = torch.randn(1, h, n, n, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(1))
    ref = torch.zeros_like(table).index_add_(1, index.view(-1),
                                             grad.view(h, -1))
    got = toeplitz_table_grad(grad, grid)
    assert got.shape == ref.shape
    assert (got - ref).abs().max() <= 1e-12
    # autograd through toeplitz_gather gives the same
    leaf = table.clone().requires_grad_()
    toeplitz_gather(leaf, grid).backward(grad[0])
    assert (leaf.grad - ref).abs().max() <= 1e-12


def test_only_timm_index_counts_as_toeplitz():
    grid = (3, 4)
    index = _timm_index(grid)
    assert not is_toeplitz_index(index, (4, 3))
    assert not is_toeplitz_index(index[:-1], grid)
    assert not is_toeplitz_index(index.double(), grid)
    other = index.clone()
    other[2, 5] += 1
    assert not is_toeplitz_index(other, grid)
    with pytest.raises(ValueError, match='offsets'):
        toeplitz_bias(_table((3, 3)), grid)


def _attn(window=(4, 2), heads=2, dim=16, seed=0):
    torch.manual_seed(seed)
    attn = WindowAttention(dim, window, heads, pretrained_window_size=(3, 2))
    perturb_weights(attn, seed, attn_noise=0.5)
    return ZoeSwinV2FusedAttention.from_timm(attn)


def _ops(fn):
    from torch.profiler import profile
    with profile() as prof:
        fn()
    return {e.key: e.count for e in prof.key_averages()}


@pytest.mark.parametrize('recompute', [False, True])
def test_module_gradients_without_index_add(recompute):
    """One attention module (non-square 4x2 window, shift mask) in
    training: same output and gradients with either path, and no
    index_select / index_add_ in the strided one."""
    attn = _attn().train()
    attn.recompute_bias = recompute
    n = 8
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(6, n, 16, generator=gen)
    mask = torch.where(torch.rand(3, n, n, generator=gen) > 0.7, -100., 0.)
    res = {}
    for strided in (False, True):
        attn.toeplitz_bias = strided
        for m in (mask, None):
            attn.zero_grad()

            def step():
                attn(x, m).square().sum().backward()

            ops = _ops(step)
            used = {k for k in ('aten::index_select', 'aten::index_add_')
                    if ops.get(k, 0)}
            assert used == (set() if strided else
                            {'aten::index_select', 'aten::index_add_'})
            res[strided, m is None] = (attn(x, m).detach(), [
                p.grad.clone() for p in attn.cpb_mlp.parameters()])
    for unmasked in (False, True):
        (out0, g0), (out1, g1) = res[False, unmasked], res[True, unmasked]
        assert torch.allclose(out1, out0, rtol=1e-6, atol=1e-7)
        for a, b in zip(g1, g0):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)


def test_another_index_keeps_the_gather():
    attn = _attn().eval()
    index = attn.relative_position_index.clone()
    index[0, :2] = index[0, :2].flip(0)  # not timm's formula any more
    attn.relative_position_index = index
    x = torch.randn(3, 8, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ops = _ops(lambda: attn(x))
        assert ops.get('aten::index_select', 0) == 1
        table = attn._bias_table()
        assert torch.equal(attn._gather_bias(table, None),
                           table[:, index.view(-1)].view(1, 2, 8, 8))


def test_tiny_backbone_gradients_and_eval_paths():
    """A tiny SwinV2 (4x2 windows, clipped in the last stage): cpb MLP
    gradients of the training step and eval outputs of every cache mode
    with the strided bias equal the gather path."""
    torch.manual_seed(0)
    backbone = ZoeSwinV2(
        arch='swinv2_tiny_window8_256', img_size=(16, 32), embed_dim=8,
        depths=(1, 2, 1), num_heads=(1, 2, 2), window_size=(4, 2),
        pretrained_window_sizes=(0, 0, 0), out_indices=(0, 1, 2),
        attn_impl='sdpa', fused_eval=True)
    perturb_weights(backbone, 0, attn_noise=0.5)
    attns = [m for m in backbone.modules()
             if isinstance(m, ZoeSwinV2FusedAttention)]
    assert {tuple(a.window_size) for a in attns} >= {(4, 2), (2, 2)}
    x = torch.randn(2, 3, 16, 32, generator=torch.Generator().manual_seed(4))

    def run(strided):
        for a in attns:
            a.toeplitz_bias = strided
        backbone.train().zero_grad()
        sum(f.square().mean() for f in backbone(x)).backward()
        grads = [p.grad.clone() for a in attns
                 for p in a.cpb_mlp.parameters()]
        backbone.eval()
        outs = []
        with torch.no_grad():
            for mode in ('table', 'full', 'none'):
                for a in attns:
                    a.cache_bias = mode
                outs += list(backbone(x))
        return grads, outs

    g0, o0 = run(False)
    g1, o1 = run(True)
    assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-8)
               for a, b in zip(g1, g0))
    assert max(g.abs().max() for g in g0) > 0
    # the bias values are the same copies: bit-identical eval outputs
    assert all(torch.equal(a, b) for a, b in zip(o1, o0))


def test_switch_from_config_shipped_on_same_depth():
    """Speed switch ``toeplitz_bias`` on the SwinV2 core: off in the code,
    on in the shipped configs, reaches every attention module from
    ``model.backbone.toeplitz_bias``; the tiny model's eval depth with it
    equals the gather path's (the same bias values)."""
    import inspect
    import os.path as osp

    from mmengine.config import Config

    from mmzoe.models.speed_switches import (SWITCHES_BY_NAME, get_switch,
                                             set_switch)
    from mmzoe.registry import MODELS
    from zoe_testing import REPO
    switch = SWITCHES_BY_NAME['toeplitz_bias']
    base = osp.join(REPO, 'configs/_base_/models')
    for name in ('zoedepth_swin2b.py', 'zoedepth_tiny.py',
                 'zoedepth_beitl384.py'):
        cfg = Config.fromfile(osp.join(base, name))
        assert get_switch(cfg, 'toeplitz_bias') == switch.shipped is True
    for cls in (ZoeSwinV2, ZoeSwinV2FusedAttention):
        default = inspect.signature(cls).parameters['toeplitz_bias'].default
        assert default == switch.off is False
    # a core of another type neither gets nor reports the key
    cnn = Config(dict(model=dict(backbone=dict(type='ZoeTimmBackbone'))))
    set_switch(cnn, 'toeplitz_bias', True)
    assert 'toeplitz_bias' not in cnn.model.backbone
    assert get_switch(cnn, 'toeplitz_bias') is False

    tiny = Config.fromfile(osp.join(base, 'zoedepth_tiny.py'))
    models = []
    for value in (switch.on, switch.off):
        set_switch(tiny, 'toeplitz_bias', value)
        torch.manual_seed(0)
        models.append(MODELS.build(tiny.model).eval())
        attns = [m for m in models[-1].backbone.modules()
                 if isinstance(m, ZoeSwinV2FusedAttention)]
        assert attns and all(a.toeplitz_bias is value for a in attns)
    fast, ref = models
    perturb_weights(fast.backbone, 1, attn_noise=0.5)
    ref.load_state_dict(fast.state_dict())
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        depth = fast.forward_depths(x * 2 - 1, flip=False)['depth']
        depth_ref = ref.forward_depths(x * 2 - 1, flip=False)['depth']
    rel = float(((depth - depth_ref).abs() / depth_ref).max())
    assert rel <= switch.rtol, rel
