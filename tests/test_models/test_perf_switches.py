"""Speed switches give the outputs they promise (no timing here).

Tolerances (docs/benchmarks.md): fused SwinV2 attention (``attn_impl='sdpa'``)
and channels-last DPT neck within 1e-5 relative of plain eager fp32;
activation checkpointing identical up to rounding (1e-5); bf16 autocast within
1 % mean relative depth error. The reference is always timm's own
``WindowAttention`` / the model built with every switch off.
"""
import copy
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from timm.models.swin_transformer_v2 import SwinTransformerV2Block

from mmzoe.models.backbones import ZoeSwinV2FusedAttention
from mmzoe.models.utils import perturb_weights
from mmzoe.registry import MODELS
from mmzoe.utils import register_all_modules

from zoe_testing import REPO as ROOT
from zoe_testing import ForkedSubprocess

TINY_CFG = osp.join(ROOT, 'configs/_base_/models/zoedepth_tiny.py')
BENCH_DIR = osp.join(ROOT, 'tools', 'analysis_tools')

register_all_modules()


def _perturb(module: torch.nn.Module, seed: int = 0) -> None:
    """Random SwinV2 weights that exercise the attention: post-norm weights
    1 + 0.1 noise, the rest + 0.02 noise, the logit scale and cpb MLP + 0.5
    noise so that every term of the attention matters."""
    perturb_weights(module, seed, attn_noise=0.5)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Max abs difference relative to the reference's max magnitude."""
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def _grad_tol(name: str) -> float:
    """Tolerance of a gradient under a different summation order: 1e-4 of
    its largest entry, 1e-3 for a SwinV2 ``logit_scale`` (one sum per head
    over every attention logit of the block, with cancellation; its
    rounding depends on the thread count: 1.3e-4 seen with 2 threads)."""
    return 1e-3 if name.endswith('logit_scale') else 1e-4


def _shifted_block(dim=32, heads=2, res=8, win=4, pretrained=3):
    torch.manual_seed(0)
    block = SwinTransformerV2Block(
        dim, input_resolution=res, num_heads=heads, window_size=win,
        shift_size=win // 2, pretrained_window_size=pretrained)
    _perturb(block)
    assert block.attn_mask is not None  # the shift mask is exercised
    return block


# ------------------------------------------------------- window attention
@pytest.mark.parametrize('with_mask', [False, True])
@pytest.mark.parametrize('batch', [1, 3])
def test_fused_attention_matches_timm(with_mask, batch):
    block = _shifted_block()
    ref = block.attn
    fused = ZoeSwinV2FusedAttention.from_timm(ref)
    assert type(ref).__name__ == 'WindowAttention'  # timm's own module
    assert dict(fused.named_parameters()).keys() == dict(
        ref.named_parameters()).keys()
    mask = block.attn_mask if with_mask else None
    num_win = block.attn_mask.shape[0]
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch * num_win, 16, 32, generator=gen)
    for mode in ('train', 'eval'):
        getattr(ref, mode)()
        getattr(fused, mode)()
        with torch.no_grad():
            out_ref = ref(x, mask)
            out = fused(x, mask)
            out2 = fused(x, mask)  # from the cached bias in eval
        assert _rel(out, out_ref) < 1e-5
        assert torch.equal(out, out2)

    # gradients (train mode, no caching)
    ref.train()
    fused.train()
    xs = [x.clone().requires_grad_() for _ in range(2)]
    grads = []
    for mod, xi in zip((ref, fused), xs):
        mod.zero_grad()
        (mod(xi, mask) * torch.linspace(-1, 1, 32)).square().sum().backward()
        grads.append({n: p.grad.clone() for n, p in mod.named_parameters()})
    assert _rel(xs[1].grad, xs[0].grad) < 1e-4
    for name, g in grads[0].items():
        assert _rel(grads[1][name], g) < 1e-4, name


@pytest.mark.parametrize('bias_kind',
                         ['shared', 'per_window', 'shift', 'one_window'])
@pytest.mark.parametrize('chunk_bytes', [1, 3 * 2 * 16 * 16 * 4, 2**30])
def test_biased_attention_in_chunks(monkeypatch, bias_kind, chunk_bytes):
    """The custom function (window chunks of any size; a separate shift mask
    repeating per image; probabilities kept instead of a bias of the same
    size) gives the output and the gradients of
    ``softmax(q kᵀ + bias + mask) v`` that autograd gives (float64)."""
    from mmzoe.models.backbones import swinv2_fused_attention as fa
    monkeypatch.setattr(fa, '_CHUNK_BYTES', chunk_bytes)
    gen = torch.Generator().manual_seed(0)
    # windows (2 images x 7, or one), heads, tokens, dim
    shape = (1 if bias_kind == 'one_window' else 14, 2, 16, 8)
    q, k, v = (torch.randn(shape, generator=gen, dtype=torch.float64)
               for _ in range(3))
    lead = 14 if bias_kind == 'per_window' else 1
    bias = torch.randn((lead, 2, 16, 16), generator=gen, dtype=torch.float64)
    mask = None
    if bias_kind == 'shift':
        mask = torch.where(torch.rand(7, 1, 16, 16, generator=gen) < 0.3,
                           -100.0, 0.0).to(torch.float64)
    grad_out = torch.randn(shape, generator=gen, dtype=torch.float64)
    outs, grads = [], []
    for fused in (True, False):
        leaves = [t.clone().requires_grad_() for t in (q, k, v, bias)]
        if fused:
            out = fa._BiasedAttention.apply(*leaves, mask)
            assert out.grad_fn.keep_probs == (
                bias_kind in ('per_window', 'one_window'))
        else:
            qq, kk, vv, bb = leaves
            logits = qq @ kk.transpose(-2, -1) + bb
            if mask is not None:
                logits = logits + mask.repeat(2, 1, 1, 1)
            out = torch.softmax(logits, -1) @ vv
        out.backward(grad_out)
        outs.append(out.detach())
        grads.append([t.grad for t in leaves])
    assert _rel(outs[0], outs[1]) < 1e-12
    for name, g_fused, g_ref in zip('qkvb', *grads):
        assert g_fused.shape == g_ref.shape, name
        # (the backward computes the softmax in float32)
        assert _rel(g_fused, g_ref) < 2e-6, name


def test_biased_attention_forward_uses_the_fused_kernel():
    """With a position bias that requires a gradient, the forward pass still
    runs torch's fused CPU kernel (a mask that requires grad sends
    ``scaled_dot_product_attention`` to its unfused math path)."""
    from torch.profiler import profile

    from mmzoe.models.backbones import swinv2_fused_attention as fa
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn((2, 2, 16, 8), generator=gen).requires_grad_()
               for _ in range(3))
    bias = torch.randn((1, 2, 16, 16), generator=gen).requires_grad_()
    with profile() as prof:
        out = fa._BiasedAttention.apply(q, k, v, bias, None)
    names = {e.name for e in prof.events()}
    assert not out.grad_fn.keep_probs
    assert 'aten::_scaled_dot_product_attention_math' not in names, names
    assert any('flash_attention' in n for n in names), names


def test_fused_attention_bias_cache_invalidation():
    block = _shifted_block()
    ref = block.attn
    fused = ZoeSwinV2FusedAttention.from_timm(ref).eval()
    ref.eval()
    mask = block.attn_mask
    x = torch.randn(mask.shape[0], 16, 32)
    with torch.no_grad():
        fused(x, mask)
    assert fused._bias_cache is not None
    cached = fused._bias_cache[1]
    with torch.no_grad():
        fused(x, mask)
    assert fused._bias_cache[1] is cached  # reused

    # in-place weight update (as load_state_dict / optimisers do)
    with torch.no_grad():
        ref.cpb_mlp[0].weight.mul_(1.5)
        fused.cpb_mlp[0].weight.mul_(1.5)
        out = fused(x, mask)
        assert _rel(out, ref(x, mask)) < 1e-5
    assert fused._bias_cache[1] is not cached

    # load_state_dict of new weights
    state = copy.deepcopy(ref.state_dict())
    state['cpb_mlp.2.weight'] = state['cpb_mlp.2.weight'] * -1
    ref.load_state_dict(state)
    fused.load_state_dict(state)
    with torch.no_grad():
        assert _rel(fused(x, mask), ref(x, mask)) < 1e-5
        # unmasked calls key their own bias
        assert _rel(fused(x), ref(x)) < 1e-5

    # train() clears the cache; no caching while training
    fused.train()
    assert fused._bias_cache is None
    with torch.no_grad():
        fused(x, mask)
    assert fused._bias_cache is None
    # eval with gradients needed: no caching either
    fused.eval()
    out = fused(x, mask)
    assert out.requires_grad and fused._bias_cache is None


# --------------------------------------------------------- whole (tiny) model
def _tiny_cfg(**switches):
    from mmzoe.models.speed_switches import reference_config
    cfg = reference_config(Config.fromfile(TINY_CFG))
    # two blocks per stage: the odd blocks of stages 0/1 use shifted windows
    cfg.model.backbone.depths = (2, 2, 2, 2)
    for key, value in switches.items():
        part, opt = key.split('__')
        cfg.model[part][opt] = value
    return cfg.model


def _tiny_model(state=None, **switches):
    torch.manual_seed(0)
    model = MODELS.build(_tiny_cfg(**switches))
    if state is None:
        _perturb(model)
    else:
        model.load_state_dict(state)
    return model


@pytest.fixture(scope='module')
def tiny_ref():
    model = _tiny_model().eval()
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 64, 64, generator=gen) * 2 - 1
    with torch.no_grad():
        depth = model.forward_depths(x, flip=False)['depth']
    return model, x, depth


@pytest.mark.parametrize('switches', [
    dict(backbone__attn_impl='sdpa'),
    dict(neck__channels_last=True),
    dict(backbone__attn_impl='sdpa', neck__channels_last=True),
    dict(decode_head__fused_expectation=True),
])
def test_fp32_switches_within_1e5(tiny_ref, switches):
    ref_model, x, ref_depth = tiny_ref
    model = _tiny_model(ref_model.state_dict(), **switches).eval()
    if 'backbone__attn_impl' in switches:
        attn = model.backbone.model.layers[0].blocks[1].attn
        assert isinstance(attn, ZoeSwinV2FusedAttention)
    with torch.no_grad():
        for _ in range(2):  # second call: cached bias
            depth = model.forward_depths(x, flip=False)['depth']
            rel = ((depth - ref_depth).abs() / ref_depth).max()
            assert rel < 1e-5, (switches, float(rel))
            assert depth.is_contiguous()


def test_checkpoint_keys_unchanged(tiny_ref):
    ref_model = tiny_ref[0]
    model = _tiny_model(
        ref_model.state_dict(), backbone__attn_impl='sdpa',
        neck__channels_last=True)
    assert list(model.state_dict()) == list(ref_model.state_dict())
    missing, unexpected = model.load_state_dict(
        ref_model.state_dict(), strict=True)
    assert not missing and not unexpected


def test_bf16_autocast_within_one_percent(tiny_ref):
    ref_model, x, ref_depth = tiny_ref
    model = _tiny_model(ref_model.state_dict(),
                        backbone__attn_impl='sdpa').eval()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        depth = model.forward_depths(x, flip=False)['depth']
    assert torch.isfinite(depth).all()
    mean_rel = ((depth.float() - ref_depth).abs() / ref_depth).mean()
    assert mean_rel < 0.01, float(mean_rel)


def _train_loss_and_grads(model, x):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(5)
    samples = []
    for _ in range(x.shape[0]):
        s = SegDataSample(metainfo=dict(ori_shape=(64, 64)))
        s.gt_depth_map = PixelData(
            data=0.5 + 9 * torch.rand(1, 64, 64, generator=gen))
        samples.append(s)
    model.train()
    torch.manual_seed(7)  # same drop-path draws
    loss = sum(v for k, v in model.loss(x, samples).items() if 'loss' in k)
    loss.backward()
    return loss.detach(), {
        n: p.grad.clone()
        for n, p in model.named_parameters() if p.grad is not None
    }


@pytest.mark.parametrize('attn_impl', ['timm', 'sdpa'])
def test_activation_checkpointing_same_loss_and_grads(tiny_ref, attn_impl):
    ref_model, x, _ = tiny_ref
    state = ref_model.state_dict()
    base = _tiny_model(state, backbone__attn_impl=attn_impl)
    ckpt = _tiny_model(
        state, backbone__attn_impl=attn_impl, backbone__with_cp=True,
        neck__with_cp=True, decode_head__with_cp=True)
    assert ckpt.backbone.model.layers[0].grad_checkpointing
    loss0, g0 = _train_loss_and_grads(base, x)
    loss1, g1 = _train_loss_and_grads(ckpt, x)
    assert abs(float(loss1 - loss0)) <= 1e-5 * abs(float(loss0))
    assert g0.keys() == g1.keys()
    # every trainable parameter gets a gradient with checkpointing too
    assert set(g1) == {
        n for n, p in ckpt.named_parameters() if p.requires_grad
    }
    for name, g in g0.items():
        assert _rel(g1[name], g) < _grad_tol(name), name


def test_conv_before_resize_same_loss_grads_and_depth(tiny_ref):
    """``neck.conv_before_resize``: the fusion blocks' 1x1 out_conv before
    the bilinear resize in training and plain eval; the same function
    (float64 block: 1e-12) and, on the tiny model, the same depth, loss
    and gradients up to fp32 rounding."""
    from mmzoe.models.layers import ZoeFeatureFusionBlock
    torch.manual_seed(0)
    block = ZoeFeatureFusionBlock(6).double()
    x, skip = torch.randn(2, 2, 6, 5, 7, dtype=torch.float64).unbind(0)
    outs = []
    for flag in (False, True):
        block.conv_before_resize = flag
        block.zero_grad(set_to_none=True)
        out = block(x, skip, size=(11, 13))
        out.mul(torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view(
            out.shape)).sum().backward()
        outs.append([out.detach()] + [p.grad for p in block.parameters()
                                      if p.grad is not None])
    assert len(outs[0]) == len(outs[1]) > 1
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    ref_model, x, ref_depth = tiny_ref
    state = ref_model.state_dict()
    model = _tiny_model(state, neck__conv_before_resize=True).eval()
    assert model.neck.refinenet1.conv_before_resize
    with torch.no_grad():
        depth = model.forward_depths(x, flip=False)['depth']
    assert ((depth - ref_depth).abs() / ref_depth).max() < 1e-5
    loss0, g0 = _train_loss_and_grads(_tiny_model(state), x)
    loss1, g1 = _train_loss_and_grads(model, x)
    assert abs(float(loss1 - loss0)) <= 1e-5 * abs(float(loss0))
    assert g0.keys() == g1.keys()
    for name, g in g0.items():
        assert _rel(g1[name], g) < _grad_tol(name), name


@pytest.mark.parametrize('with_cp', [False, True])
def test_fused_expectation_same_loss_and_grads(tiny_ref, with_cp):
    """``decode_head.fused_expectation`` (probabilities recomputed in the
    backward pass) trains like the unfused head, with and without
    checkpointing; asking for the probabilities still gives them."""
    ref_model, x, _ = tiny_ref
    state = ref_model.state_dict()
    loss0, g0 = _train_loss_and_grads(_tiny_model(state), x)
    fused = _tiny_model(state, decode_head__fused_expectation=True,
                        decode_head__with_cp=with_cp)
    loss1, g1 = _train_loss_and_grads(fused, x)
    assert abs(float(loss1 - loss0)) <= 1e-5 * abs(float(loss0))
    assert g0.keys() == g1.keys()
    for name, g in g0.items():
        assert _rel(g1[name], g) < _grad_tol(name), name
    fused.eval()
    with torch.no_grad():
        feats = fused.neck(fused.backbone(x))
        extras = fused.decode_head(feats, return_extras=True)
        depth = fused.decode_head(feats)
    assert extras['probs'].shape[1] == fused.decode_head.n_bins
    assert _rel(depth, extras['metric_depth']) < 1e-6


def test_fused_attention_training_matches_timm(tiny_ref):
    ref_model, x, _ = tiny_ref
    state = ref_model.state_dict()
    loss0, g0 = _train_loss_and_grads(_tiny_model(state), x)
    loss1, g1 = _train_loss_and_grads(
        _tiny_model(state, backbone__attn_impl='sdpa'), x)
    assert abs(float(loss1 - loss0)) <= 1e-5 * abs(float(loss0))
    for name, g in g0.items():
        assert _rel(g1[name], g) < _grad_tol(name), name


# ------------------------------------------------------------ benchmark tool
@pytest.fixture(scope='module')
def bench():
    sys.path.insert(0, BENCH_DIR)
    try:
        import benchmark
    finally:
        sys.path.remove(BENCH_DIR)
    return benchmark


def test_benchmark_flops_count_fused_attention(bench):
    """The fused CPU attention kernel's FLOPs are counted: with the bias
    rebuilt every call (as timm does) the count equals timm's matmul
    count."""
    counts = {}
    for impl in ('timm', 'sdpa'):
        model = _tiny_model(backbone__attn_impl=impl).eval()
        for m in model.modules():
            if isinstance(m, ZoeSwinV2FusedAttention):
                m.cache_bias = False  # the bias rebuilt every call
        x = torch.zeros(1, 3, 64, 64)

        def run(model=model, x=x):
            with torch.no_grad():
                return model.forward_depths(x, flip=False)

        counts[impl] = bench.count_flops(run)
    assert counts['timm'] > 0
    assert counts['sdpa'] == counts['timm']


def test_benchmark_infer_and_train(bench, tmp_path):
    out = tmp_path / 'infer.json'
    res = bench.main([
        TINY_CFG, '--attn-impl', 'sdpa', '--channels-last', '--repeats',
        '2', '--warmup', '1', '--threads', '1', '--json',
        str(out)
    ])
    assert out.is_file()
    assert res['params'] > 0 and res['gflop_per_forward'] > 0
    assert len(res['times_s']) == 2
    assert res['latency_min_s'] <= res['latency_median_s'] <= \
        res['latency_max_s']
    assert res['peak_mem_bytes'] > 0
    assert res['vs_fp32_eager_max_rel_err'] < 1e-5
    # the machine probe (2048x2048 matmuls, ~4 s of CPU each) runs before
    # and after the timed runs; the other benchmark runs here skip it
    for key in ('probe_start', 'probe_end'):
        probe = res['env'][key]
        assert probe['matmul_gflops'] > 0 and probe['copy_gbs'] > 0, probe

    res = bench.main([
        TINY_CFG, '--mode', 'train', '--with-cp', '--amp', 'bf16',
        '--repeats', '2', '--warmup', '1', '--threads', '1', '--no-flops',
        '--rss-phases', '--no-probe'
    ])
    assert 'probe_start' not in res['env']
    assert len(res['losses']) == 3
    assert res['trainable_params'] > 0
    peaks = res['rss_phase_peaks_bytes']
    assert {'forward', 'backward', 'optimizer'} <= set(peaks), peaks
    # statm and the kernel's high-water mark batch their counters apart
    assert 0 < max(peaks.values()) <= 1.01 * bench.process_peak_rss()
    with pytest.raises(SystemExit):
        bench.parse_args([TINY_CFG, '--rss-phases'])  # infer mode


def test_benchmark_eager_turns_every_switch_off(bench):
    """``--eager`` gives the upstream-order model of a config with every
    speed switch on; switches named after it still apply."""
    cfg_file = osp.join(ROOT, 'configs/_base_/models/zoedepth_swin2b.py')
    on = bench.load_config(bench.parse_args([cfg_file])).model
    assert on.backbone.attn_impl == 'sdpa' and on.neck.channels_last
    assert on.decode_head.clb_project_condition
    assert on.decode_head.fused_expectation
    off = bench.load_config(bench.parse_args([cfg_file, '--eager'])).model
    assert off.backbone.attn_impl == 'timm'
    assert not off.neck.get('channels_last', False)
    for key in ('clb_project_condition', 'fused_expectation'):
        assert not off.decode_head.get(key, False), key
    mixed = bench.load_config(
        bench.parse_args([cfg_file, '--eager', '--attn-impl', 'sdpa'])).model
    assert mixed.backbone.attn_impl == 'sdpa'
    assert not mixed.decode_head.get('fused_expectation', False)


def test_benchmark_data_tool():
    sys.path.insert(0, BENCH_DIR)
    try:
        import benchmark_data
    finally:
        sys.path.remove(BENCH_DIR)
    cfg = osp.join(ROOT, 'tests', 'configs', 'zoe_tiny_nyu.py')
    res = benchmark_data.main([
        cfg, '--synthetic', '3', '--repeats', '3',
        '--warmup', '1', '--batch-size', '1', '--num-workers', '0'
    ])
    assert res['dataset_len'] == 3
    assert res['samples_per_s'] > 0


def test_benchmark_table_runs_the_matrix(tmp_path, monkeypatch):
    sys.path.insert(0, BENCH_DIR)
    try:
        import benchmark_table
    finally:
        sys.path.remove(BENCH_DIR)
    # on CPU each run is a process of its own: a fork of the tests' warm
    # interpreter here instead of a fresh one
    forked = ForkedSubprocess()
    monkeypatch.setattr(benchmark_table, 'subprocess', forked)
    out = tmp_path / 'rows.json'
    rows = benchmark_table.main([
        TINY_CFG, '--modes', 'infer', '--variants', 'eager', 'default',
        '--warmup', '0', '--repeats', '1', '--threads', '1', '--json',
        str(out), '--extra', '--no-probe'  # the probe: test above
    ])
    assert [r['variant'] for r in rows] == ['eager', 'default']
    assert all('result' in r for r in rows), rows
    assert [osp.basename(c[1]) for c in forked.commands] == [
        'benchmark.py'] * 2
    assert all('--no-probe' in c for c in forked.commands)  # --extra
    assert rows[0]['result']['switches']['attn_impl'] == 'timm'
    assert rows[0]['result']['switches']['channels_last'] is False
    assert rows[1]['result']['vs_fp32_eager_max_rel_err'] < 1e-5
    assert out.is_file()
    table = benchmark_table.table(rows)
    assert '| infer | eager | 1 | fp32 |' in table and 'reference' in table
