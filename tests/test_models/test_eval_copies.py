"""Copies removed from the eval forward: blocked-transpose memory-format
conversions of the DPT neck and the BEiT bias table kept across ``eval()``.
"""
import pytest
import torch

import mmzoe.models.backbones.beit_attention as beit_attention
from mmzoe.models.backbones import ZoeBEiT
from mmzoe.models.utils.memory_format import channels_last_copy, nchw_copy

torch.set_num_threads(1)

SHAPES = [(1, 64, 24, 32), (1, 1, 48, 80), (1, 48, 1, 96), (3, 16, 40, 24),
          (2, 5, 3, 7)]


def _as_channels_last(x):
    return torch.empty_like(x, memory_format=torch.channels_last).copy_(x)


@pytest.mark.parametrize('shape', SHAPES)
def test_layout_copies_equal_the_generic_copy(shape):
    x = torch.randn(shape)
    cl_ref = _as_channels_last(x)
    with torch.no_grad():
        out = channels_last_copy(x)
        back = nchw_copy(cl_ref)
    # to channels-last: same values and strides as the generic copy, new memory
    assert torch.equal(out, x) and out.stride() == cl_ref.stride()
    assert out.data_ptr() != x.data_ptr()
    # already channels-last: generic copy
    cl = channels_last_copy(cl_ref)
    assert torch.equal(cl, x) and cl.stride() == cl_ref.stride()
    # back to NCHW: contiguous; nothing to do for NCHW input; neither format
    # (a transposed view): plain contiguous()
    assert torch.equal(back, x) and back.is_contiguous()
    assert nchw_copy(x) is x
    odd = x.transpose(2, 3)
    assert torch.equal(nchw_copy(odd), odd) and nchw_copy(odd).is_contiguous()


def test_copies_pass_gradients():
    x = torch.randn(2, 8, 12, 16, requires_grad=True)
    weight = torch.randn(2, 8, 12, 16)
    cl = channels_last_copy(x)
    assert cl.is_contiguous(memory_format=torch.channels_last)
    back = nchw_copy(cl * 1.0)
    assert back.is_contiguous()
    (back * weight).sum().backward()
    assert torch.equal(x.grad, weight)


def _tiny_beit() -> ZoeBEiT:
    torch.manual_seed(0)
    model = ZoeBEiT(img_size=64, embed_dim=32, depth=2, num_heads=2,
                    out_indices=(0, 1), toeplitz_bias=True, fused_eval=True)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return model.eval()


def test_bias_table_cache_survives_eval(monkeypatch):
    calls = []
    resize = beit_attention.resize_rel_pos_table

    def counted(*args, **kwargs):
        calls.append(1)
        return resize(*args, **kwargs)

    monkeypatch.setattr(beit_attention, 'resize_rel_pos_table', counted)
    model = _tiny_beit()
    x = torch.randn(1, 3, 48, 80)  # a 3x5 grid: the 4x4 table is resized
    with torch.no_grad():
        first = model(x)[-1][0].clone()
        assert len(calls) == 2  # one resize per block
        model.eval()  # what inference_depth does for every image
        assert torch.equal(model(x)[-1][0], first)
        assert len(calls) == 2
        model.train()
        model.eval()  # training mode drops the cache
        assert torch.equal(model(x)[-1][0], first)
        assert len(calls) == 4
        table = model.model.blocks[1].attn.relative_position_bias_table
        table.add_(torch.randn(table.shape))
        model.eval()
        assert not torch.allclose(model(x)[-1][0], first)
        assert len(calls) == 5  # only the updated block
