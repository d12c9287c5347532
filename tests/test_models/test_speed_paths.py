"""The fast paths users get: CPU runtime by default, precision, bias cache,
the speed-switch list (no timing here)."""
import inspect
import json
import os.path as osp
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config

import mmzoe  # noqa: F401
from mmzoe.apis import inference_depth, init_model
from mmzoe.models.speed_switches import (SPEED_SWITCHES, SWITCHES_BY_NAME,
                                         get_switch, reference_config,
                                         set_switch)
from mmzoe.utils.cpu_runtime import (DEFAULT_CPU_RUNTIME, apply_cpu_runtime,
                                     cpu_runtime_settings)
from zoe_testing import REPO, run_code

ROOT = REPO
TINY = osp.join(ROOT, 'configs', '_base_', 'models', 'zoedepth_tiny.py')
SWIN2B = osp.join(ROOT, 'configs', '_base_', 'models', 'zoedepth_swin2b.py')
RUNTIME = osp.join(ROOT, 'configs', '_base_', 'default_runtime.py')
FAST = {'model.backbone.attn_impl': 'sdpa', 'model.neck.channels_last': True}


def _perturb(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen).to(p)
            if name.endswith(('norm1.weight', 'norm2.weight')):
                p.copy_(1 + 0.1 * noise)
            else:
                p.add_(0.02 * noise)


def _tiny(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return init_model(TINY, None, cfg_options=FAST, **kwargs)


@pytest.fixture(scope='module')
def ref():
    torch.manual_seed(0)
    model = _tiny()
    _perturb(model)
    img = (np.random.RandomState(0).rand(40, 52, 3) * 255).astype(np.uint8)
    return model, img, inference_depth(model, img)


# -------------------------------------------------------- speed switches
def test_shipped_configs_and_code_defaults_follow_the_switch_list():
    from mmzoe.models.backbones import ZoeSwinV2
    from mmzoe.models.decode_heads import ZoeDepthHead
    from mmzoe.models.necks import ZoeDPTNeck
    tiny = Config.fromfile(TINY)
    cfg = Config.fromfile(SWIN2B)
    cfg.merge_from_dict(dict(env_cfg=Config.fromfile(RUNTIME).env_cfg))
    # (switches of other parts' types: test_beit_speed_switches.py)
    swin_switches = [s for s in SPEED_SWITCHES if not s.applies_to]
    for switch in swin_switches:
        if switch.keys and switch.keys[0].startswith('model.'):
            assert get_switch(tiny, switch.name) == switch.shipped, \
                switch.name
    classes = dict(backbone=ZoeSwinV2, neck=ZoeDPTNeck,
                   decode_head=ZoeDepthHead)
    for switch in swin_switches:
        if not switch.keys:
            continue
        assert get_switch(cfg, switch.name) == switch.shipped, switch.name
        for key in switch.keys:
            part = key.split('.')[1]
            if part in classes:
                default = inspect.signature(classes[part]).parameters[
                    key.split('.')[-1]].default
                assert default == switch.off, key
    assert SWITCHES_BY_NAME['cpu_runtime'].shipped == DEFAULT_CPU_RUNTIME


def test_with_cp_is_one_switch_and_reference_turns_all_off():
    cfg = Config.fromfile(SWIN2B)
    set_switch(cfg, 'with_cp', True)
    assert cfg.model.backbone.with_cp and cfg.model.neck.with_cp
    assert cfg.model.decode_head.with_cp
    ref = reference_config(cfg)
    assert ref.model.backbone.attn_impl == 'timm'
    assert not ref.model.neck.channels_last
    assert not ref.model.decode_head.fused_expectation
    assert not ref.model.decode_head.with_cp
    assert cfg.model.backbone.attn_impl == 'sdpa'  # the input is unchanged
    # a CNN core gets no attn_impl
    cnn = Config(dict(model=dict(backbone=dict(type='ZoeTimmBackbone'))))
    set_switch(cnn, 'attn_impl', 'sdpa')
    assert 'attn_impl' not in cnn.model.backbone


def test_attention_variants_come_from_the_registry():
    from mmzoe.models.backbones import (ZoeSwinV2, ZoeSwinV2FusedAttention,
                                        swinv2_attention_class)
    from mmzoe.registry import MODELS
    assert MODELS.get('ZoeSwinV2FusedAttention') is ZoeSwinV2FusedAttention
    assert swinv2_attention_class('sdpa') is ZoeSwinV2FusedAttention
    assert swinv2_attention_class('timm') is None
    with pytest.raises(ValueError, match='from_timm'):
        swinv2_attention_class('ZoeSwinV2')  # registered, but no from_timm
    with pytest.raises(ValueError, match='Unknown SwinV2 attention'):
        swinv2_attention_class('sdpa_nocache')


def test_fused_attention_takes_over_timm_tensors():
    """No second copy of the attention weights while building."""
    from timm.models.swin_transformer_v2 import WindowAttention

    from mmzoe.models.backbones import ZoeSwinV2FusedAttention
    attn = WindowAttention(16, (4, 4), 2, pretrained_window_size=(0, 0))
    fused = ZoeSwinV2FusedAttention.from_timm(attn)
    for (n0, t0), (n1, t1) in zip(
            list(attn.named_parameters()) + list(attn.named_buffers()),
            list(fused.named_parameters()) + list(fused.named_buffers())):
        assert n0 == n1 and t0 is t1, n0


# ------------------------------------------------------------ cpu runtime
def test_cpu_runtime_settings_and_gpu_untouched():
    assert cpu_runtime_settings(None) == DEFAULT_CPU_RUNTIME
    assert cpu_runtime_settings(dict(cpu_runtime=None)) is None
    assert cpu_runtime_settings(
        dict(cpu_runtime=dict(malloc='release')))['malloc'] == 'release'
    # a GPU run is left alone unless asked (nothing is applied, so this
    # needs no GPU)
    assert apply_cpu_runtime(DEFAULT_CPU_RUNTIME, 'cuda:0') is None
    assert apply_cpu_runtime(None, 'cpu') is None
    with pytest.raises(KeyError, match='unknown cpu_runtime'):
        apply_cpu_runtime(dict(mallok='reuse'), 'cpu')


@pytest.mark.skipif(not sys.platform.startswith('linux'),
                    reason='glibc mallopt')
def test_init_model_applies_the_cpu_runtime_before_building():
    code = textwrap.dedent(f'''
        import json, warnings
        import torch
        torch.set_num_threads(2)
        from mmzoe.apis import init_model
        import mmzoe.utils.cpu_runtime as rt
        calls = []
        real = rt.set_malloc_policy
        rt.set_malloc_policy = lambda p: calls.append(p) or real(p)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            init_model({TINY!r})
        tiny = torch.full((1 << 17, ), 1e-30) * 1e-10  # two threads
        print(json.dumps(dict(
            malloc=calls, left=int((tiny != 0).sum()),
            late=[str(w.message) for w in caught if 'thread' in
                  str(w.message)])))
    ''')
    # a process of its own that has not started torch's threads yet
    proc = run_code(code, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res == dict(malloc=['reuse'], left=0, late=[])


# -------------------------------------------------- inference_depth path
def test_inference_depth_keeps_the_position_bias_cache(ref, monkeypatch):
    """inference_depth calls eval()/train(False) around every prediction;
    the cached bias table survives them (one gather per attention module and
    call, no MLP); with the full cache, no gather at all."""
    from mmzoe.models.backbones import ZoeSwinV2FusedAttention as Attn
    model, img, depth = ref
    attns = [m for m in model.modules() if hasattr(m, '_bias_cache')]
    tables = [m._bias_cache[1] for m in attns]
    calls = {'mlp': 0, 'gather': 0}
    table_fn, gather_fn = Attn._bias_table, Attn._gather_bias

    def counted_table(self):
        calls['mlp'] += 1
        return table_fn(self)

    def counted_gather(self, table, mask):
        calls['gather'] += 1
        return gather_fn(self, table, mask)

    monkeypatch.setattr(Attn, '_bias_table', counted_table)
    monkeypatch.setattr(Attn, '_gather_bias', counted_gather)
    again = inference_depth(model, img)
    assert calls == {'mlp': 0, 'gather': len(attns)}
    assert all(m._bias_cache[1] is t for m, t in zip(attns, tables))
    assert np.array_equal(again, depth)
    for m in attns:
        m.cache_bias = 'full'
    inference_depth(model, img)  # fills the full cache
    calls.update(mlp=0, gather=0)
    full = inference_depth(model, img)
    for m in attns:
        m.cache_bias = True
    assert calls == {'mlp': 0, 'gather': 0}
    assert np.array_equal(full, depth)
    model.train()  # training drops the cache
    assert all(m._bias_cache is None for m in model.modules()
               if hasattr(m, '_bias_cache'))
    model.eval()


@pytest.mark.parametrize('precision', ['bf16', 'fp16'])
def test_precision_casts_once_with_fp32_islands(ref, precision):
    from torch.profiler import profile
    model, img, depth = ref
    low = _tiny(precision=precision)
    low.load_state_dict(model.state_dict())
    dtype = dict(bf16=torch.bfloat16, fp16=torch.float16)[precision]
    assert low.backbone.model.patch_embed.proj.weight.dtype == dtype
    assert low.neck.layer1_rn.weight.dtype == dtype
    assert all(p.dtype == torch.float32
               for p in low.decode_head.parameters())
    rel_dtype = low.neck.relative_head.conv1.weight.dtype
    assert rel_dtype == (torch.float32 if precision == 'fp16' else dtype)
    attn = low.backbone.model.layers[0].blocks[0].attn
    assert attn.cpb_mlp[0].weight.dtype == torch.float32
    out = inference_depth(low, img)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert np.abs(out - depth).mean() / depth.mean() < 0.01
    # weights are not cast per call: far fewer conversions than autocast
    with profile() as prof:
        inference_depth(low, img)
    with profile() as prof_ac, torch.autocast('cpu', dtype=dtype):
        inference_depth(model, img)

    def copies(p):
        return sum(e.count for e in p.key_averages()
                   if e.key == 'aten::_to_copy')

    assert copies(prof) * 3 < copies(prof_ac), (copies(prof),
                                                copies(prof_ac))
    # back to fp32: same numbers as before
    from mmzoe.models.utils import set_inference_precision
    set_inference_precision(low, 'fp32')
    assert low.backbone.model.patch_embed.proj.weight.dtype == torch.float32


def test_precision_option_of_the_tools(tmp_path):
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    try:
        import test as test_tool
    finally:
        sys.path.pop(0)
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')
    cfg_file = osp.join(ROOT, 'tests', 'configs', 'zoe_tiny_nyu.py')
    args = test_tool.parse_args(
        [cfg_file, str(ckpt), '--precision', 'bf16'])
    cfg = test_tool.build_test_cfg(args)
    assert dict(type='ZoeInferencePrecisionHook',
                precision='bf16') in cfg.custom_hooks
    from mmzoe.engine.hooks import ZoeInferencePrecisionHook

    class _Runner:
        model = _tiny()

        class logger:
            info = staticmethod(lambda msg: None)

    ZoeInferencePrecisionHook('fp16').before_test(_Runner)
    assert _Runner.model.neck.layer1_rn.weight.dtype == torch.float16
    with pytest.raises(ValueError, match='precision'):
        ZoeInferencePrecisionHook('int8')


def test_benchmark_paths_tool_times_both_rows(tmp_path):
    bench_dir = osp.join(ROOT, 'tools', 'analysis_tools')
    sys.path.insert(0, bench_dir)
    try:
        import benchmark_paths
    finally:
        sys.path.remove(bench_dir)
    res = benchmark_paths.main([
        TINY, '--repeats', '1', '--warmup', '0', '--threads', '1',
        '--json', str(tmp_path / 'r.json')
    ])
    assert set(res['times_s']) == {'baseline', 'user'}
    assert res['ratio_user_over_baseline'] > 0
    # same weights, same image: the user path gives the baseline's depth
    assert res['user_vs_baseline_depth']['max_rel'] < 1e-5
    assert (tmp_path / 'r.json').is_file()


def test_mmseg_train_tool_builds_the_zoe_runner(tmp_path):
    """MMSegmentation's tools/train.py calls mmengine's root
    ``RUNNERS.build(cfg)`` when the config names a ``runner_type``: the
    default runtime's ``runner_type``/``_scope_`` reach ZoeRunner, whose
    setup_env applies the CPU runtime."""
    from mmengine.registry import RUNNERS

    from mmzoe.engine.runner import ZoeRunner
    runtime = Config.fromfile(RUNTIME)
    cfg = Config.fromfile(osp.join(ROOT, 'tests', 'configs',
                                   'zoe_tiny_nyu.py'))
    cfg.merge_from_dict(dict(runner_type=runtime.runner_type,
                             _scope_=runtime._scope_,
                             work_dir=str(tmp_path)))
    assert isinstance(RUNNERS.build(cfg), ZoeRunner)
