"""Under a ``TorchDispatchMode`` (FLOP counters, fake tensors) the fused
SwinV2 and BEiT attentions step aside for the plain operators
(``plain_ops_required``): no strided position bias, no bias cache, no
custom backward; the result is the normal path's up to rounding."""
import torch
from timm.models.beit import Attention
from timm.models.swin_transformer_v2 import WindowAttention
from torch.utils._python_dispatch import TorchDispatchMode

from mmzoe.models.backbones import ZoeSwinV2FusedAttention
from mmzoe.models.backbones import beit_attention as ba
from mmzoe.models.backbones import swinv2_fused_attention as sfa
from mmzoe.models.utils import perturb_weights, plain_ops_required


class _Recorder(TorchDispatchMode):
    """Runs every operator unchanged and records its name."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def _counting(monkeypatch, module, name):
    """Replace ``module.name`` by a wrapper counting its calls."""
    calls = []
    fn = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(name)
        return fn(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def _swin_attention() -> ZoeSwinV2FusedAttention:
    torch.manual_seed(0)
    attn = WindowAttention(16, (4, 2), 2, pretrained_window_size=(3, 2))
    perturb_weights(attn, 0, attn_noise=0.5)
    return ZoeSwinV2FusedAttention.from_timm(attn, toeplitz_bias=True)


def _normal_then_plain(attn, call, strided, cache_attr):
    """``call()`` in eval without gradients, first on the normal path (the
    strided bias runs, the table is cached), then with the cache dropped
    under a recording dispatch mode (neither happens, an index gather
    runs). Returns (normal output, plain output)."""
    attn.eval()
    with torch.no_grad():
        ref = call()
    assert strided and getattr(attn, cache_attr) is not None
    setattr(attn, cache_attr, None)
    strided.clear()
    with torch.no_grad(), _Recorder() as rec:
        assert plain_ops_required()
        out = call()
    assert not plain_ops_required()
    assert not strided and getattr(attn, cache_attr) is None
    assert 'aten.index_select' in rec.ops or 'aten.index' in rec.ops
    return ref, out


def test_swinv2_attention_plain_under_dispatch_mode(monkeypatch):
    attn = _swin_attention()
    assert attn.toeplitz_bias and attn.cache_bias
    strided = _counting(monkeypatch, sfa, 'toeplitz_gather')
    custom = _counting(monkeypatch, sfa._BiasedAttention, 'apply')
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(6, 8, 16, generator=gen)
    mask = torch.where(torch.rand(3, 8, 8, generator=gen) > 0.7, -100., 0.)
    ref, out = _normal_then_plain(attn, lambda: attn(x, mask), strided,
                                  '_bias_cache')
    assert _rel(out, ref) < 1e-5
    # training: the custom backward steps aside too, same gradients
    attn.train()
    grads = []
    for mode in (None, _Recorder):
        attn.zero_grad()
        custom.clear()
        if mode is None:
            attn(x, mask).square().sum().backward()
            assert custom
        else:
            with mode():
                attn(x, mask).square().sum().backward()
            assert not custom
        grads.append([p.grad.clone() for p in attn.parameters()])
    for a, b in zip(*grads):
        assert _rel(b, a) < 1e-5


def test_beit_attention_plain_under_dispatch_mode(monkeypatch):
    torch.manual_seed(0)
    timm_attn = Attention(32, num_heads=2, qkv_bias=True, window_size=(4, 4))
    perturb_weights(timm_attn, 0)
    attn = ba.ZoeBEiTAttention.from_timm(timm_attn, toeplitz_bias=True)
    strided = _counting(monkeypatch, ba, 'toeplitz_bias')
    grid = (3, 5)
    x = torch.randn(2, 16, 32, generator=torch.Generator().manual_seed(2))
    ref, out = _normal_then_plain(attn, lambda: attn(x, grid), strided,
                                  '_table_cache')
    assert _rel(out, ref) < 1e-5
