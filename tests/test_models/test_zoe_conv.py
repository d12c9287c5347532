"""ZoeConv2d (``neck.fast_conv_grad``): the output and every gradient of
``nn.Conv2d`` (float64: up to rounding; fp32 DPT neck: 1e-5 of the largest
entry), the same parameters and state-dict keys (no timing here)."""
import pytest
import torch
import torch.nn as nn

from mmzoe.models.layers import ZoeConv2d, convert_to_zoe_conv
from mmzoe.models.speed_switches import SWITCHES_BY_NAME
from zoe_testing import neck_train_losses_and_grads, tiny_dpt_neck


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def _pair(c, o, k, pad, bias, channels_last, dtype=torch.float64):
    torch.manual_seed(0)
    ref = nn.Conv2d(c, o, k, padding=pad, bias=bias).to(dtype)
    new = ZoeConv2d.from_conv(
        nn.Conv2d(c, o, k, padding=pad, bias=bias).to(dtype))
    new.load_state_dict(ref.state_dict())
    if channels_last:
        ref.to(memory_format=torch.channels_last)
        new.to(memory_format=torch.channels_last)
    return ref, new


def _fast_node(out: torch.Tensor) -> bool:
    return out.grad_fn is not None and \
        '_ConvFastGrad' in type(out.grad_fn).__name__


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('c,o,k,pad,n', [(5, 7, 3, 1, 2), (3, 4, 5, 2, 1),
                                         (3, 4, 3, 0, 2),
                                         (3, 4, (3, 1), (1, 0), 1)])
@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('band_bytes', [1, 2**30])
def test_same_output_and_gradients_float64(monkeypatch, channels_last, c, o,
                                           k, pad, n, bias, band_bytes):
    """One output row per band (halo and border rows at every band) or the
    whole image in one band."""
    from mmzoe.models.layers import zoe_conv
    monkeypatch.setattr(zoe_conv, '_BAND_BYTES', band_bytes)
    ref, new = _pair(c, o, k, pad, bias, channels_last)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n, c, 9, 11, generator=gen, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    xs = [x.clone().requires_grad_() for _ in range(2)]
    outs = [ref(xs[0]), new(xs[1])]
    assert _fast_node(outs[1]) and not _fast_node(outs[0])
    assert torch.equal(outs[0], outs[1])
    grad = torch.randn(outs[0].shape, generator=gen, dtype=torch.float64)
    for out in outs:
        out.backward(grad)
    assert _rel(xs[1].grad, xs[0].grad) < 1e-12
    assert _rel(new.weight.grad, ref.weight.grad) < 1e-12
    if bias:
        assert _rel(new.bias.grad, ref.bias.grad) < 1e-12


def test_unneeded_gradients_are_skipped():
    ref, new = _pair(4, 6, 3, 1, True, True)
    new.weight.requires_grad_(False)
    x = torch.randn(1, 4, 6, 6, dtype=torch.float64)
    # frozen weight, input without grad: only the bias gradient
    out = new(x)
    assert _fast_node(out)
    out.sum().backward()
    assert new.weight.grad is None
    ref(x).sum().backward()
    assert _rel(new.bias.grad, ref.bias.grad) < 1e-12
    # nothing needs a gradient: plain nn.Conv2d
    new.bias.requires_grad_(False)
    assert new(x).grad_fn is None


@pytest.mark.parametrize('kwargs', [dict(kernel_size=1),
                                    dict(kernel_size=3, stride=2),
                                    dict(kernel_size=3, dilation=2),
                                    dict(kernel_size=3, groups=2),
                                    dict(kernel_size=3, padding=1,
                                         padding_mode='reflect')])
def test_other_convolutions_run_nn_conv2d(kwargs):
    conv = ZoeConv2d(4, 6, **kwargs)
    x = torch.randn(1, 4, 8, 8, requires_grad=True)
    assert not _fast_node(conv(x))
    conv.eval()
    assert not _fast_node(ZoeConv2d(4, 6, 3, padding=1).eval()(x))


def test_autocast_runs_nn_conv2d():
    """Under autocast the output is bf16 while the saved input is fp32:
    plain nn.Conv2d (autocast's own conv and backward)."""
    conv = ZoeConv2d(4, 6, 3, padding=1)
    x = torch.randn(1, 4, 8, 8, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = conv(x)
    assert out.dtype == torch.bfloat16 and not _fast_node(out)
    out.float().sum().backward()
    assert x.grad is not None and conv.weight.grad is not None


def test_convert_keeps_parameters_and_keys():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                           nn.Sequential(nn.Conv2d(4, 2, 1)))
    keys = list(module.state_dict())
    params = [p for p in module.parameters()]
    convert_to_zoe_conv(module)
    assert isinstance(module[0], ZoeConv2d)
    assert isinstance(module[2][0], ZoeConv2d)
    assert list(module.state_dict()) == keys
    assert all(a is b for a, b in zip(module.parameters(), params))
    with pytest.raises(TypeError, match='nn.Conv2d'):
        ZoeConv2d.from_conv(nn.Linear(2, 2))


def test_neck_switch_same_function_and_gradients():
    """The shipped combination (channels-last + fast_conv_grad) against the
    plain NCHW neck in fp32: same state-dict keys, the same eval output
    (bit-identical to channels-last alone), training loss and every
    parameter and input gradient within the switch's tolerance."""
    tol = SWITCHES_BY_NAME['fast_conv_grad'].rtol
    ref = tiny_dpt_neck()
    fast = tiny_dpt_neck(channels_last=True, fast_conv_grad=True)
    plain_cl = tiny_dpt_neck(channels_last=True)
    assert list(fast.state_dict()) == list(ref.state_dict())
    fast.load_state_dict(ref.state_dict())
    plain_cl.load_state_dict(ref.state_dict())
    n_fast = sum(isinstance(m, ZoeConv2d) for m in fast.modules())
    assert n_fast == sum(isinstance(m, nn.Conv2d) for m in ref.modules())
    gen = torch.Generator().manual_seed(2)
    feats = [
        torch.randn(1, c, s, s, generator=gen)
        for c, s in zip([8, 12, 16, 20], [16, 8, 4, 2])
    ]
    for m in (ref, fast, plain_cl):
        m.eval()
    with torch.no_grad():
        out_cl = plain_cl(feats)
        out_fast = fast(feats)
    assert torch.equal(out_fast.rel_depth, out_cl.rel_depth)
    assert torch.equal(out_fast.out_conv, out_cl.out_conv)

    weight = torch.randn(1, 8, 64, 64, generator=gen)
    losses, grads = neck_train_losses_and_grads((ref, fast), feats, weight)
    assert _rel(losses[1], losses[0]) < tol
    assert grads[0].keys() == grads[1].keys()
    for name, g in grads[0].items():
        assert g is not None and grads[1][name] is not None, name
        assert _rel(grads[1][name], g) < tol, name


@pytest.mark.parametrize('pad', [0, 1])
@pytest.mark.parametrize('band_bytes', [1, 2**30])
def test_winograd_weight_grad_float64(monkeypatch, pad, band_bytes):
    """F(4x4, 3x3) weight gradient = the direct one up to rounding: partial
    tiles (13 x 10 maps), batch 2, one tile row per band or one band."""
    from mmzoe.models.utils import winograd_wgrad
    monkeypatch.setattr(winograd_wgrad, 'BAND_BYTES', band_bytes)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 5, 13, 10, generator=gen, dtype=torch.float64)
    weight = torch.randn(7, 5, 3, 3, generator=gen, dtype=torch.float64)
    grad = torch.randn(2, 7, 13 + 2 * pad - 2, 10 + 2 * pad - 2,
                       generator=gen, dtype=torch.float64)
    ref = torch.ops.aten.convolution_backward(
        grad, x, weight, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], 1,
        [False, True, False])[1]
    out = winograd_wgrad.winograd_weight_grad(x, grad, (pad, pad))
    assert out.shape == ref.shape and _rel(out, ref) < 1e-12


@pytest.mark.parametrize('in_channels,out_channels,expect_winograd',
                         [(128, 128, True), (128, 32, False),
                          (4, 128, False)])
def test_winograd_weight_grad_in_zoe_conv(monkeypatch, in_channels,
                                          out_channels, expect_winograd):
    """``winograd=True``, float32, a 40x41 map: the weight gradient runs
    through the F(4x4, 3x3) transform for >= 128 input and output channels
    (else the direct GEMMs), within 1e-5 of the float64 gradient either
    way."""
    from mmzoe.models.layers import zoe_conv
    from mmzoe.models.utils import winograd_available
    if not winograd_available():
        pytest.skip('torch built without NNPACK')
    assert zoe_conv.WGRAD_MIN_CHANNELS == 128  # what the cases straddle
    calls = []
    real = zoe_conv.winograd_weight_grad
    monkeypatch.setattr(zoe_conv, 'winograd_weight_grad',
                        lambda *a: calls.append(1) or real(*a))
    torch.manual_seed(0)
    conv = ZoeConv2d(in_channels, out_channels, 3, padding=1, winograd=True)
    ref = nn.Conv2d(in_channels, out_channels, 3, padding=1).double()
    ref.load_state_dict(conv.state_dict())
    x = torch.randn(1, in_channels, 40, 41)
    grad = torch.randn(1, out_channels, 40, 41)
    out = conv(x)
    assert _fast_node(out)
    out.backward(grad)
    ref(x.double()).backward(grad.double())
    assert len(calls) == int(expect_winograd)
    assert _rel(conv.weight.grad, ref.weight.grad) < 1e-5
    assert _rel(conv.bias.grad, ref.bias.grad) < 1e-5


def test_dispatch_mode_sees_plain_conv_in_training():
    """Under a TorchDispatchMode (the FLOP counter of get_flops) a training
    ZoeConv2d steps aside for nn.Conv2d: the counter sees the plain
    convolution and its backward (same count as nn.Conv2d)."""
    from torch.utils.flop_counter import FlopCounterMode
    conv = ZoeConv2d(4, 6, 3, padding=1)
    ref = nn.Conv2d(4, 6, 3, padding=1)
    counts = []
    for m in (conv, ref):
        x = torch.randn(1, 4, 8, 8, requires_grad=True)
        with FlopCounterMode(display=False) as counter:
            out = m(x)
            assert not _fast_node(out)
            out.sum().backward()
        counts.append(counter.get_total_flops())
    assert counts[0] == counts[1] > 0


def test_bfloat16_keeps_onednn_weight_grad(monkeypatch):
    """Dtypes other than float32/float64 take oneDNN's banded kernel (the
    GEMM path would accumulate in bf16): gradients close to float64."""
    from mmzoe.models.layers import zoe_conv
    calls = []
    real = zoe_conv._weight_grad_onednn
    monkeypatch.setattr(zoe_conv, '_weight_grad_onednn',
                        lambda *a: calls.append(1) or real(*a))
    ref, new = _pair(4, 6, 3, 1, True, False)
    new.to(torch.bfloat16)
    x = torch.randn(1, 4, 8, 8, dtype=torch.float64)
    out = new(x.bfloat16())
    assert _fast_node(out)
    out.float().sum().backward()
    ref(x).sum().backward()
    assert calls == [1]
    assert _rel(new.weight.grad.double(), ref.weight.grad) < 2e-2
    assert _rel(new.bias.grad.double(), ref.bias.grad) < 2e-2
