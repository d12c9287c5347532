"""Training-memory paths keep fewer bytes for the backward pass and give
the same loss and gradients as the plain composition (docs/memory.md,
training memory): GELU recomputation (``gelu_linear``, the SwinV2 block MLPs,
the metric head's hidden layer) and the checkpointed position-bias MLP."""
import sys

import pytest
import torch
import torch.nn.functional as F

from mmzoe.models.backbones import ZoeSwinV2
from mmzoe.models.layers import (ConditionalLogBinomial, ZoeGeluRecomputeMlp,
                                 gelu_linear)

torch.set_num_threads(1)

ATTN = sys.modules['mmzoe.models.backbones.swinv2_fused_attention']
CLB = sys.modules['mmzoe.models.layers.log_binomial']


def _saved_bytes(fn):
    """Run ``fn()`` and return (its result, bytes of the distinct storages
    autograd saved for the backward pass, leaf tensors that require a
    gradient (parameters, inputs) excepted)."""
    seen = {}

    def pack(t):
        if not (t.is_leaf and t.requires_grad):
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(seen.values())


def _grads(module, *inputs):
    return [p.grad.clone() for p in module.parameters()] + \
        [x.grad.clone() for x in inputs]


def test_gelu_linear_equals_the_composition_and_keeps_one_map():
    gen = torch.Generator().manual_seed(0)
    h0 = torch.randn(3, 50, 24, generator=gen, requires_grad=True)
    h = h0 * 1.0  # not a leaf: autograd keeps it like any activation
    h.retain_grad()
    w = torch.randn(7, 24, generator=gen, requires_grad=True)
    b = torch.randn(7, generator=gen, requires_grad=True)
    gy = torch.randn(3, 50, 7, generator=gen)
    ref, ref_bytes = _saved_bytes(lambda: F.linear(F.gelu(h), w, b))
    ref.backward(gy)
    ref_grads = [t.grad.clone() for t in (h, w, b)]
    for t in (h, w, b):
        t.grad = None
    h = h0 * 1.0
    h.retain_grad()
    out, got_bytes = _saved_bytes(lambda: gelu_linear(h, w, b))
    out.backward(gy)
    assert torch.equal(out, ref)
    for g, r in zip((h.grad, w.grad, b.grad), ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-6, atol=1e-7)
    hidden = h.numel() * h.element_size()
    # the plain composition keeps the GELU input and output (and a view
    # of the weight), gelu_linear the input only
    assert ref_bytes >= 2 * hidden
    assert got_bytes == hidden
    # no gradient recorded: the plain operators, no custom node
    with torch.no_grad():
        assert torch.equal(gelu_linear(h, w, b), ref)
    assert gelu_linear(h.detach(), w.detach()).grad_fn is None


def _swin(recompute_gelu, seed=0):
    torch.manual_seed(seed)
    return ZoeSwinV2(
        arch='swinv2_tiny_window8_256', img_size=32, embed_dim=16,
        depths=(1, 2), num_heads=(1, 2), window_size=4,
        out_indices=(0, 1), drop_path_rate=0.0, attn_impl='sdpa',
        recompute_gelu=recompute_gelu).train()


def _swin_step(model, x):
    outs, nbytes = _saved_bytes(lambda: model(x))
    loss = sum((o.double() ** 2).mean() for o in outs)
    loss.backward()
    return outs, nbytes


def test_swinv2_training_memory_paths_keep_less_same_gradients(monkeypatch):
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    new = _swin(True)
    assert all(isinstance(b.mlp, ZoeGeluRecomputeMlp)
               for s in new.model.layers for b in s.blocks)
    x_new = x.clone().requires_grad_()
    outs_new, bytes_new = _swin_step(new, x_new)
    grads_new = _grads(new, x_new)

    # the previous code path: timm's MLP, position-bias MLP not checkpointed
    monkeypatch.setattr(ATTN, '_recomputable_cpb', lambda mlp: False)
    old = _swin(False)
    assert not any(isinstance(b.mlp, ZoeGeluRecomputeMlp)
                   for s in old.model.layers for b in s.blocks)
    x_old = x.clone().requires_grad_()
    outs_old, bytes_old = _swin_step(old, x_old)
    grads_old = _grads(old, x_old)

    for a, b in zip(outs_new, outs_old):
        assert torch.equal(a, b)
    for a, b in zip(grads_new, grads_old):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8)
    # what is no longer kept: each block's GELU output (the fc2 input) and
    # each attention's position-bias hidden layer ((2W-1)^2 x 512 floats)
    blocks = [b for s in old.model.layers for b in s.blocks]
    gelu_out = sum(x.shape[0] * (32 // 4 // 2**i)**2 * b.mlp.fc1.out_features
                   for i, s in enumerate(old.model.layers) for b in s.blocks)
    cpb_hidden = sum(b.attn.relative_coords_table[0, ..., 0].numel()
                     * b.attn.cpb_mlp[0].out_features for b in blocks)
    assert bytes_old - bytes_new >= 4 * (gelu_out + cpb_hidden)


def test_swinv2_plain_mlp_in_eval_and_without_switch():
    model = _swin(True).eval()
    ref = _swin(False).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(model(x), ref(x)):
            assert torch.equal(a, b)
    with pytest.raises(TypeError, match='timm Mlp'):
        ZoeGeluRecomputeMlp.from_timm(torch.nn.Linear(2, 2))


def test_conditional_log_binomial_keeps_one_hidden_map(monkeypatch):
    fmt = torch.channels_last
    gen = torch.Generator().manual_seed(2)

    def build():
        torch.manual_seed(3)
        return ConditionalLogBinomial(9, 6, n_classes=8, bottleneck_factor=1,
                                      project_condition=True)

    x = torch.randn(2, 9, 12, 10, generator=gen).to(memory_format=fmt)
    cond = torch.randn(2, 6, 6, 5, generator=gen).to(memory_format=fmt)
    values = torch.rand(2, 8, 12, 10, generator=gen) * 5

    def step(clb):
        xs = [t.clone().requires_grad_() for t in (x, cond, values)]
        out, nbytes = _saved_bytes(lambda: clb(*xs))
        out.square().sum().backward()
        return out.detach(), nbytes, _grads(clb, *xs)

    new = step(build())
    monkeypatch.setattr(CLB, 'gelu_linear_applies', lambda *a: False)
    old = step(build())
    torch.testing.assert_close(new[0], old[0], rtol=1e-6, atol=1e-7)
    for a, b in zip(new[2], old[2]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    hidden = 2 * 15 * 12 * 10 * 4  # (B, hidden, H, W) float32
    assert old[1] - new[1] >= hidden


def test_conditional_log_binomial_nchw_strips_match_upstream_order(
        monkeypatch):
    """Contiguous (NCHW) maps in training: one accumulating product, then
    GELU + conv2 in pixel strips (``_GeluPointwise``, strips smaller than
    the map here); the same function and gradients as upstream's
    ``mlp(cat(x, upsample(cond)))`` (float64), and no hidden map kept
    beyond the pre-activation."""
    monkeypatch.setattr(CLB, '_GELU_STRIP_PIXELS', 37)
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(2, 5, 11, 13, generator=gen, dtype=torch.float64)
    cond = torch.randn(2, 3, 6, 7, generator=gen, dtype=torch.float64)

    def run(fast):
        torch.manual_seed(4)
        clb = ConditionalLogBinomial(5, 3, n_classes=8, bottleneck_factor=1,
                                     project_condition=True).double()
        xs = [t.clone().requires_grad_() for t in (x, cond)]
        if fast:
            s, nbytes = _saved_bytes(lambda: clb._mlp(*xs))
        else:
            up = F.interpolate(xs[1], size=(11, 13), mode='bilinear',
                               align_corners=True)
            s, nbytes = _saved_bytes(
                lambda: clb.mlp(torch.cat([xs[0], up], 1)))
        s.mul(torch.linspace(-1, 2, s.numel(), dtype=s.dtype).view(
            s.shape)).sum().backward()
        return s.detach(), nbytes, _grads(clb, *xs)

    fast, ref = run(True), run(False)
    assert fast[0].is_contiguous()
    torch.testing.assert_close(fast[0], ref[0], rtol=1e-12, atol=1e-12)
    for a, b in zip(fast[2], ref[2]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    hidden = 2 * 8 * 11 * 13 * 8  # (B, hidden, H, W) float64
    assert ref[1] - fast[1] >= hidden


def test_swinv2_attention_recompute_bias_keeps_the_table_only():
    """``attn_recompute_bias``: the bias (shifted blocks) and the
    probabilities (one-window blocks) are recomputed in the backward
    pass; same loss and gradients up to rounding, less kept."""
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))

    def run(recompute):
        torch.manual_seed(0)
        model = ZoeSwinV2(
            arch='swinv2_tiny_window8_256', img_size=32, embed_dim=16,
            depths=(2, 2), num_heads=(2, 2), window_size=4,
            out_indices=(0, 1), drop_path_rate=0.0, attn_impl='sdpa',
            attn_recompute_bias=recompute).train()
        xs = x.clone().requires_grad_()
        outs, nbytes = _swin_step(model, xs)
        return outs, nbytes, _grads(model, xs)

    new, old = run(True), run(False)
    for a, b in zip(new[0], old[0]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(new[2], old[2]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    # every block kept a (1, h, N, N) bias (stage 0, 4 windows) or the
    # (1, h, N, N) probabilities (stage 1, one window at batch 1); now the
    # (h, (2W-1)^2) table
    heads, n, t = 2, 16, 7 * 7
    assert old[1] - new[1] >= 4 * 4 * (heads * n * n - heads * t)
