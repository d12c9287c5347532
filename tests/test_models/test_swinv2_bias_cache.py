"""What the fused SwinV2 attention keeps of its position bias in eval mode
(``cache_bias`` / ``ZoeSwinV2(bias_cache=...)``): same values whatever it
keeps, a small table by default, one shared int32 index per window size."""
import pytest
import torch
from mmengine.config import Config
from timm.models.swin_transformer_v2 import SwinTransformerV2Block

from mmzoe.models.backbones import ZoeSwinV2, ZoeSwinV2FusedAttention
from mmzoe.models.backbones.swinv2_fused_attention import (
    bias_cache_mode, share_position_index)
from mmzoe.models.speed_switches import get_switch, set_switch
from mmzoe.models.utils import perturb_weights
from zoe_testing import REPO

# one shifted block: 8x8 tokens, 4x4 windows (4 windows), 2 heads
DIM, HEADS, RES, WIN = 32, 2, 8, 4


def _block(seed=0):
    torch.manual_seed(seed)
    block = SwinTransformerV2Block(
        DIM, input_resolution=RES, num_heads=HEADS, window_size=WIN,
        shift_size=WIN // 2, pretrained_window_size=3)
    perturb_weights(block, seed, attn_noise=0.5)
    return block.eval()


def _ops(fn):
    from torch.profiler import profile
    with profile() as prof:
        fn()
    return {e.key: e.count for e in prof.key_averages()}


@pytest.mark.parametrize('batch', [1, 2])
def test_every_cache_mode_gives_the_same_attention(batch):
    block = _block()
    mask = block.attn_mask
    x = torch.randn(batch * mask.shape[0], WIN * WIN, DIM,
                    generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = block.attn(x, mask)  # timm
        outs = {}
        for mode in ('table', 'full', False):
            fused = ZoeSwinV2FusedAttention.from_timm(
                _block().attn, cache_bias=mode)
            for m in (mask, None, mask):  # masked calls around an unmasked
                outs.setdefault(mode, []).append(fused(x, m))
    for mode, got in outs.items():
        assert all(torch.equal(a, b) for a, b in zip(got, outs[False])), mode
    rel = (outs['table'][0] - ref).abs().max() / ref.abs().max()
    assert rel < 1e-5


def test_table_cache_holds_the_table_and_skips_the_mlp():
    mask = _block().attn_mask
    x = torch.randn(mask.shape[0], WIN * WIN, DIM)
    n = WIN * WIN
    sizes = {}
    for mode in ('table', 'full', 'none'):
        for strided in (False, True):
            fused = ZoeSwinV2FusedAttention.from_timm(_block().attn,
                                                      cache_bias=mode)
            fused.toeplitz_bias = strided
            with torch.no_grad():
                fused(x, mask)
                ops = _ops(lambda: fused(x, mask))
            cache = fused._bias_cache
            sizes[mode] = None if cache is None else tuple(cache[1].shape)
            # the cpb MLP (ending in 16 * sigmoid) runs only without a
            # cache; the table is expanded per call (a gather, or strided
            # copies from one unfold view), the full bias is not
            assert ops.get('aten::sigmoid', 0) == (mode == 'none'), mode
            expands = ops.get('aten::unfold' if strided else
                              'aten::index_select', 0)
            assert expands == (mode != 'full'), (mode, strided)
            if strided:
                assert 'aten::index_select' not in ops, mode
    assert sizes == dict(table=(HEADS, (2 * WIN - 1)**2),
                         full=(mask.shape[0], HEADS, n, n),
                         none=None)


def test_bias_cache_values():
    assert bias_cache_mode(True) == 'table'
    assert bias_cache_mode(False) == bias_cache_mode(None) == 'none'
    assert bias_cache_mode('full') == 'full'
    with pytest.raises(ValueError, match='cache_bias'):
        bias_cache_mode('always')
    with pytest.raises(ValueError, match='cache_bias'):
        ZoeSwinV2FusedAttention.from_timm(_block().attn, cache_bias='always')


def _tiny_backbone(**kwargs):
    cfg = Config.fromfile(f'{REPO}/configs/_base_/models/zoedepth_tiny.py')
    args = dict(cfg.model.backbone)
    args.pop('type')
    args.update(depths=(2, 2, 2, 2), **kwargs)
    return ZoeSwinV2(**args)


def test_backbone_shares_one_int32_index_per_window_size():
    ref = _tiny_backbone(attn_impl='timm')
    fused = _tiny_backbone(attn_impl='sdpa', bias_cache='full')
    def blocks(m):
        return [b for b in m.modules()
                if isinstance(b, SwinTransformerV2Block)]

    pairs = [(r.attn, f.attn) for r, f in zip(blocks(ref), blocks(fused))]
    assert pairs and all(f.cache_bias == 'full' for _, f in pairs)
    windows = {tuple(f.window_size) for _, f in pairs}
    shared = {id(f.relative_position_index) for _, f in pairs}
    assert len(shared) == len(windows) < len(pairs)
    for r, f in pairs:
        assert r.relative_position_index.dtype == torch.int64  # timm's own
        assert f.relative_position_index.dtype == torch.int32
        assert torch.equal(f.relative_position_index.long(),
                           r.relative_position_index)
    # a module whose index is not timm's keeps its own
    odd = ZoeSwinV2FusedAttention.from_timm(_block().attn)
    odd.relative_position_index = odd.relative_position_index.flip(0)
    share_position_index([p[1] for p in pairs] + [odd])
    assert odd.relative_position_index.dtype == torch.int64
    with pytest.raises(ValueError, match='cache_bias'):
        _tiny_backbone(attn_impl='sdpa', bias_cache='always')


def test_full_bias_cache_switch_only_on_swinv2_cores():
    cfg = Config(dict(model=dict(backbone=dict(type='ZoeSwinV2'))))
    assert get_switch(cfg, 'full_bias_cache') == 'table'
    set_switch(cfg, 'full_bias_cache', 'full')
    assert cfg.model.backbone.bias_cache == 'full'
    beit = Config(dict(model=dict(backbone=dict(type='ZoeBEiT'))))
    set_switch(beit, 'full_bias_cache', 'full')
    assert 'bias_cache' not in beit.model.backbone


def test_nyu_mat_imports_h5py_on_first_use():
    """h5py (only for NYU .mat files) is not imported with the datasets
    module (every inference process registers it)."""
    from mmzoe.datasets.utils import nyu_mat
    assert not hasattr(nyu_mat, 'h5py')
    assert nyu_mat._require_h5py().__name__ == 'h5py'
