"""``winograd_conv``: the DPT neck's 3x3 convolutions through NNPACK's
Winograd kernels give the plain convolution up to Winograd's rounding, and
step aside wherever they must (no timing here).

Every check that NNPACK ran (or did not) counts the calls of
``torch._nnpack_spatial_convolution``.
"""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config

from mmzoe.models.layers import ZoeConv2d
from mmzoe.models.speed_switches import (SWITCHES_BY_NAME, reference_config,
                                         set_switch)
from mmzoe.models.utils import winograd_conv as wc
from mmzoe.models.utils.fused_eval import conv2d_eval
from mmzoe.registry import MODELS
from mmzoe.utils import register_all_modules

from zoe_testing import (REPO, neck_train_losses_and_grads,
                         tiny_dpt_neck)

pytestmark = pytest.mark.skipif(
    not wc.winograd_available(), reason='torch built without NNPACK')

register_all_modules()

# Winograd's rounding: ~1e-5 of the largest output (float64 reference)
TOL = 1e-4
RTOL = SWITCHES_BY_NAME['winograd_conv'].rtol
SIDE = 40  # 40 x 40 = MIN_PIXELS
# the shipped width threshold (the fixture below lowers it for small convs)
SHIPPED_MIN_CHANNELS = wc.MIN_CHANNELS
DEMO_CFG = (f'{REPO}/configs/demo/'
            'zoedepth_resnet18s-segdistill_1xb8-1200it_synthetic-nyu-128.py')


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() /
                 b.double().abs().max().clamp_min(1e-12))


@pytest.fixture(autouse=True)
def narrow_widths(monkeypatch):
    """Every channel width NNPACK-eligible, so that the tests can use small
    convolutions (tests of the width rule restore the shipped value)."""
    monkeypatch.setattr(wc, 'MIN_CHANNELS', 1)
    # NNPACK's thread pool: whatever earlier tests created it with, these
    # tests look at the rule, not at its threads
    monkeypatch.setattr(wc, '_pool_threads', None)


@pytest.fixture
def shipped_widths(monkeypatch):
    """The shipped width threshold (after ``narrow_widths``)."""
    monkeypatch.setattr(wc, 'MIN_CHANNELS', SHIPPED_MIN_CHANNELS)


@pytest.fixture
def calls(monkeypatch):
    """The number of NNPACK convolution calls since the fixture started."""
    count = [0]
    original = torch._nnpack_spatial_convolution

    def counted(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, '_nnpack_spatial_convolution', counted)
    return count


def _conv(c=4, o=6, pad=1, bias=True, winograd=True, **kwargs):
    torch.manual_seed(0)
    return ZoeConv2d(c, o, 3, padding=pad, bias=bias, winograd=winograd,
                     **kwargs)


def _x(n=1, c=4, h=SIDE, w=SIDE, seed=1, **kwargs):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, h, w, generator=gen, **kwargs)


def test_threshold_and_initialisation():
    assert wc.MIN_PIXELS == SIDE * SIDE
    conv = _conv().eval()
    with torch.no_grad():
        assert wc.winograd_applies(_x(), conv)
        assert not wc.winograd_applies(_x(h=SIDE - 1), conv)
    assert wc.winograd_available() is wc.winograd_available()


def test_other_thread_count_than_the_pool_keeps_onednn(calls, monkeypatch):
    conv = _conv().eval()
    threads = torch.get_num_threads()
    with torch.no_grad():
        ref = F.conv2d(_x(), conv.weight, conv.bias, padding=1)
        out = conv(_x())  # the first NNPACK call records the pool's size
        assert calls[0] == 1 and wc._pool_threads == threads
        monkeypatch.setattr(wc, '_pool_threads', threads + 1)
        assert not wc.winograd_enabled(_x())
        assert not wc.winograd_applies(_x(), conv)
        same = conv(_x())
    assert calls[0] == 1  # oneDNN ran the second call
    assert torch.equal(same, ref) and _rel(out, ref) < TOL


@pytest.mark.parametrize('n', [1, 2])
@pytest.mark.parametrize('pad', [0, 1])
@pytest.mark.parametrize('bias', [True, False])
def test_eval_forward_matches_conv(calls, n, pad, bias):
    conv = _conv(pad=pad, bias=bias).eval()
    x = _x(n, h=SIDE + 3)
    with torch.no_grad():
        out = conv(x)
    assert calls[0] == n  # one call per image
    want = F.conv2d(x.double(), conv.weight.double(),
                    None if conv.bias is None else conv.bias.double(),
                    padding=pad)
    assert out.shape == want.shape and out.is_contiguous()
    assert _rel(out, want) < TOL
    # every image on its own equals the batch's slice (no mixing)
    if n > 1:
        with torch.no_grad():
            assert torch.equal(conv(x[1:]), out[1:])


def test_channels_last_input_and_weights_changed_in_place(calls):
    conv = _conv().eval()
    x = _x().contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out = conv(x)
        assert _rel(out, F.conv2d(x, conv.weight, conv.bias, padding=1)) < TOL
        conv.weight.mul_(-2)  # nothing cached: the new weight is used
        out2 = conv(x)
    assert calls[0] == 2
    assert _rel(out2 - conv.bias.view(1, -1, 1, 1),
                -2 * (out - conv.bias.view(1, -1, 1, 1))) < TOL


@pytest.mark.parametrize('relu', [False, True])
@pytest.mark.parametrize('add', [False, True])
def test_conv2d_eval_relu_and_residual(calls, relu, add):
    conv = _conv(o=4).eval()
    x = _x(2)
    other = _x(2, seed=5) if add else None
    with torch.no_grad():
        out = conv2d_eval(x, conv, relu=relu, add=other)
        want = F.conv2d(x.double(), conv.weight.double(),
                        conv.bias.double(), padding=1)
        if add:
            want = want + other.double()
        if relu:
            want = want.clamp_min(0)
    assert calls[0] == 2
    assert _rel(out, want) < TOL
    if add:
        assert other.abs().sum() > 0 and not torch.equal(other, out)


@pytest.mark.parametrize('n', [1, 2])
def test_training_forward_and_gradients(calls, n):
    """Forward and input gradient through NNPACK (one call per image each),
    weight and bias gradients on oneDNN; all within Winograd's rounding of
    ``nn.Conv2d`` in float64."""
    new = _conv(fast_grad=True).train()
    ref = nn.Conv2d(4, 6, 3, padding=1).double()
    ref.load_state_dict(new.state_dict())
    x = _x(n, h=SIDE + 2)
    xs = [x.clone().requires_grad_(), x.double().requires_grad_()]
    outs = [new(xs[0]), ref(xs[1])]
    assert calls[0] == n
    assert 'ConvFastGrad' in type(outs[0].grad_fn).__name__
    grad = _x(n, c=6, h=SIDE + 2, seed=9)
    outs[0].backward(grad)
    outs[1].backward(grad.double())
    assert calls[0] == 2 * n
    assert _rel(outs[0], outs[1]) < TOL
    assert _rel(xs[0].grad, xs[1].grad) < TOL
    assert _rel(new.weight.grad, ref.weight.grad) < TOL
    assert _rel(new.bias.grad, ref.bias.grad) < TOL


def _steps_aside(calls, conv, x, ctx=None):
    with torch.no_grad():
        if ctx is None:
            out = conv(x)
        else:
            with ctx:
                out = conv(x)
    assert calls[0] == 0
    return out


def test_steps_aside_float64_stride_1x1_small_map(calls):
    _steps_aside(calls, _conv().double().eval(), _x(dtype=torch.float64))
    _steps_aside(calls, _conv(stride=2).eval(), _x())
    _steps_aside(calls, _conv(dilation=2, pad=1).eval(), _x())
    _steps_aside(calls, _conv(pad=2).eval(), _x())
    torch.manual_seed(0)
    _steps_aside(calls, ZoeConv2d(4, 6, 1, winograd=True).eval(), _x())
    _steps_aside(calls, _conv().eval(), _x(h=16, w=16))
    _steps_aside(calls, _conv(winograd=False).eval(), _x())


def test_steps_aside_autocast_nnpack_off_and_dispatch_mode(calls):
    from torch.utils.flop_counter import FlopCounterMode
    conv = _conv().eval()
    x = _x()
    out = _steps_aside(calls, conv, x,
                       torch.autocast('cpu', dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16
    _steps_aside(calls, conv, x, torch.backends.nnpack.flags(enabled=False))
    counter = FlopCounterMode(display=False)
    _steps_aside(calls, conv, x, counter)
    # the plain convolution's multiply-adds are counted
    assert counter.get_total_flops() == 2 * 6 * 4 * 9 * SIDE * SIDE
    with torch.no_grad():
        conv(x)
    assert calls[0] == 1  # and the same call runs NNPACK outside them


def test_steps_aside_with_gradients_outside_fast_grad(calls):
    """Gradients to record without ZoeConv2d's own backward (eval mode, or
    fast_grad off): plain ``nn.Conv2d``."""
    x = _x().requires_grad_()
    for conv in (_conv().eval(), _conv(fast_grad=False).train()):
        out = conv(x)
        assert 'ConvFastGrad' not in type(out.grad_fn).__name__
    assert calls[0] == 0
    with torch.no_grad():
        traced = torch.jit.trace(_conv().eval(), _x(), check_trace=False)
        assert calls[0] == 0
        traced(_x())
    assert calls[0] == 0  # the trace recorded the plain convolution
    assert 'nnpack' not in str(traced.graph)


def test_neck_eval_and_training_within_tolerance(calls, monkeypatch):
    """The shipped combination (channels-last, fused eval, fast gradients,
    Winograd) against the plain NCHW neck: same keys; NCHW weights for
    NNPACK; eval outputs channels-last for the heads; eval outputs and the
    training loss within the switch's rtol, every gradient within 1e-4 of
    its largest entry (the switch's tolerance)."""
    ref = tiny_dpt_neck()
    new = tiny_dpt_neck(channels_last=True, fused_eval=True,
                        fast_conv_grad=True, winograd_conv=True)
    assert list(new.state_dict()) == list(ref.state_dict())
    new.load_state_dict(ref.state_dict())
    for m in new.modules():
        if isinstance(m, ZoeConv2d):
            assert m.winograd and m.weight.is_contiguous()
    gen = torch.Generator().manual_seed(2)
    # threshold 16 x 16 here (small maps, a fast test), l1 at 16 x 16: the
    # 3x3 convolutions at 16, 32 and 64 pixels run NNPACK (batch 2:
    # test_eval_forward_matches_conv and test_training_forward_and_gradients)
    side = 16
    monkeypatch.setattr(wc, 'MIN_PIXELS', side * side)
    feats = [
        torch.randn(1, c, s, s, generator=gen)
        for c, s in zip([8, 12, 16, 20], [side, side // 2, side // 4, 2])
    ]
    ref.eval()
    new.eval()
    with torch.no_grad():
        want = ref(feats)
        got = new(feats)
    # layer1_rn, refinenet1's four RCU convs, relative head conv1 and conv2
    assert calls[0] == 7
    assert got.out_conv.is_contiguous(memory_format=torch.channels_last)
    for name in ('out_conv', 'rel_depth', 'bottleneck'):
        assert _rel(getattr(got, name), getattr(want, name)) < RTOL, name
    for g, w in zip(got.decoder, want.decoder):
        assert _rel(g, w) < RTOL

    calls[0] = 0
    weight = torch.randn(1, 8, 4 * side, 4 * side, generator=gen)
    losses, grads = neck_train_losses_and_grads((ref, new), feats, weight)
    # the 7 convolutions forward, and their input gradients
    assert calls[0] == 2 * 7
    assert _rel(losses[1], losses[0]) < RTOL
    for name, g in grads[0].items():  # the switch: 1e-4 of the largest
        assert _rel(grads[1][name], g) < TOL, name


def test_shipped_tiny_model_switch_on_off():
    """The shipped tiny config with the switch on and off, every width
    NNPACK-eligible: depth within the switch's rtol (NNPACK runs in the
    relative head at 64 x 64)."""
    cfg = Config.fromfile(f'{REPO}/configs/_base_/models/zoedepth_tiny.py')
    assert cfg.model.neck.winograd_conv is True
    models = []
    for value in (True, False):
        c = cfg.copy()
        set_switch(c, 'winograd_conv', value)
        torch.manual_seed(0)
        models.append(MODELS.build(c.model).eval())
    models[1].load_state_dict(models[0].state_dict())
    x = _x(1, c=3, h=64, w=64, seed=3)
    from torch.profiler import profile
    with torch.no_grad():
        with profile() as prof:
            on = models[0].forward_depths(x, flip=False)['depth']
        off = models[1].forward_depths(x, flip=False)['depth']
    names = [e.name for e in prof.events()]
    assert 'aten::_nnpack_spatial_convolution' in names
    rel = float(((on - off).abs() / off.abs()).max())
    assert 0 < rel < RTOL, rel
    # the reference (every switch off) is NNPACK-free
    assert reference_config(cfg).model.neck.winograd_conv is False


@pytest.mark.parametrize('pad', [0, 1])
def test_large_maps_run_in_row_bands(monkeypatch, calls, pad):
    # bound the band to 2 tiles of 6 rows for this small map: 44 output
    # rows (pad 1) -> 4 bands; the halo rows and the zero border rows must
    # give the unbanded convolution
    monkeypatch.setattr(wc, 'BAND_PIXEL_CHANNELS', 12 * 44 * 10)
    conv = _conv(pad=pad).eval()
    x = _x(n=2, h=44, w=44)
    with torch.no_grad():
        out = wc.winograd_conv2d(x, conv.weight, conv.bias, (pad, pad))
        ref = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(),
                       padding=pad)
    assert out.shape == ref.shape and out.is_contiguous()
    rows = 44 + 2 * pad - 2
    assert calls[0] == 2 * -(-rows // 12)
    assert _rel(out, ref) < TOL


def test_width_rule(shipped_widths):
    """NNPACK only for channel widths whose harmonic mean is at least
    MIN_CHANNELS: 32 -> 32 and the demo's 32 -> 16 / 16 -> 8 relative head
    lose to oneDNN; 40 -> 40, the SwinV2-B / BEiT-L relative head's
    128 -> 32 and 256-channel convolutions win (module docstring)."""
    assert wc.MIN_CHANNELS == 40
    pays = wc.winograd_width_pays
    for cin, cout in [(40, 40), (128, 32), (32, 128), (256, 128), (256, 256),
                      (64, 40), (64, 32)]:
        assert pays(cin, cout) and pays(cout, cin), (cin, cout)
    for cin, cout in [(32, 32), (39, 40), (32, 16), (16, 8), (48, 32),
                      (256, 16), (0, 64)]:
        assert not pays(cin, cout) and not pays(cout, cin), (cin, cout)
    x32, x40 = _x(c=32), _x(c=40)
    with torch.no_grad():
        assert not wc.winograd_applies(x32, _conv(32, 32).eval())
        assert wc.winograd_applies(x40, _conv(40, 40).eval())
        # the keyword form (the training path's input gradient)
        w = torch.zeros(40, 40, 3, 3)
        assert wc.winograd_applies(x40, weight=w)
        assert not wc.winograd_applies(x32, weight=torch.zeros(32, 32, 3, 3))
    assert wc.winograd_may_apply(_conv(40, 40))
    assert not wc.winograd_may_apply(_conv(32, 32))
    assert not wc.winograd_may_apply(_conv(40, 40, winograd=False))
    assert not wc.winograd_may_apply(nn.Conv2d(40, 40, 3, padding=1))


def test_demo_neck_trains_channels_last_without_nnpack(shipped_widths,
                                                       calls):
    """The demo's 32-channel decoder (its relative head's 32 -> 16 and
    16 -> 8 convolutions lost to oneDNN at the demo's 64x80 / 128x160 maps,
    batch 8): no NNPACK,
    channels-last weights and maps as without the switch, in training and
    eval; same outputs and gradients as the neck built without it."""
    cfg = Config.fromfile(DEMO_CFG).model.neck
    assert cfg.winograd_conv and cfg.channels_last
    necks = []
    for value in (True, False):
        torch.manual_seed(0)
        necks.append(MODELS.build(dict(cfg, winograd_conv=value)))
    on, off = necks
    off.load_state_dict(on.state_dict())
    conv = on.refinenet1.resConfUnit1.conv1
    assert conv.winograd and conv.weight.is_contiguous(
        memory_format=torch.channels_last)
    seen = []
    conv.register_forward_pre_hook(lambda m, args: seen.append(
        args[0].is_contiguous(memory_format=torch.channels_last)))
    gen = torch.Generator().manual_seed(4)
    # backbone levels of an 80 x 96 input (strides 4..32): the relative
    # head convolves 40 x 48 and 80 x 96 maps (>= MIN_PIXELS)
    feats = [torch.randn(1, c, 80 // s, 96 // s, generator=gen)
             for c, s in zip(cfg.in_channels, (4, 8, 16, 32))]
    weight = torch.randn(1, 8, 80, 96, generator=gen)
    losses, grads = neck_train_losses_and_grads(necks, feats, weight)
    assert calls[0] == 0 and seen == [True]
    assert torch.equal(losses[0], losses[1])
    for name, g in grads[1].items():
        assert torch.equal(grads[0][name], g), name
    for m in necks:
        m.eval()
    with torch.no_grad():
        got, want = on(feats), off(feats)
    assert calls[0] == 0  # (fused eval: the convolution runs functionally)
    assert torch.equal(got.rel_depth, want.rel_depth)
    assert torch.equal(got.out_conv, want.out_conv)


@pytest.mark.parametrize('name', ['zoedepth_swin2b', 'zoedepth_beitl384'])
def test_wide_decoders_keep_nnpack(shipped_widths, name):
    """The 256-channel DPT decoders of the SwinV2-B and BEiT-L models keep
    NNPACK and its NCHW layout: every 3x3 convolution of the neck is wide
    enough (relative head: 256 -> 128, 128 -> 32)."""
    cfg = Config.fromfile(f'{REPO}/configs/_base_/models/{name}.py')
    neck = MODELS.build(cfg.model.neck)
    convs = [m for m in neck.modules() if isinstance(m, ZoeConv2d)
             and m.kernel_size == (3, 3) and m.stride == (1, 1)]
    assert len(convs) == 22  # 4 layer_rn, 16 fusion-block, 2 relative head
    for m in convs:
        assert wc.winograd_may_apply(m) and m.weight.is_contiguous()
    head = neck.relative_head
    with torch.no_grad():
        assert wc.winograd_applies(torch.zeros(1, 128, 384, 384), head.conv2)
