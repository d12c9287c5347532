"""Tests of the MiDaS BEiT core: backbone, bias resizing, converters, configs.

Tiny BEiT models only (seconds); the full-size BEiT-L checks are built on
the meta device (shapes, no memory). Full-size numerical comparisons with
upstream ZoeDepth and transformers are scripts:
tools/analysis_tools/check_upstream_equivalence.py, check_hf_equivalence.py.
"""
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from mmengine.config import Config

from mmzoe.models.backbones import ZoeBEiT
from mmzoe.models.backbones.beit_attention import resize_rel_pos_table
from mmzoe.models.data_preprocessors import ZoeDepthDataPreProcessor
from mmzoe.models.utils.ckpt_convert import (CheckpointConversionError,
                                             check_against_model_keys,
                                             convert_hf_zoedepth_keys,
                                             convert_midas_any_keys,
                                             convert_zoedepth_any_keys)
from mmzoe.registry import MODELS
from mmzoe.utils import register_all_modules

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / 'tests' / 'data'
BEIT_CFG = ROOT / 'configs/_base_/models/zoedepth_beitl384.py'
TINY_CFG = ROOT / 'tests' / 'configs' / 'zoe_beit_tiny.py'

register_all_modules(init_default_scope=True)
torch.set_num_threads(1)

TINY = dict(img_size=64, embed_dim=32, depth=4, num_heads=2,
            out_indices=(0, 1, 2, 3))


def _perturb(module: torch.nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))


def _tiny_beit(**kw) -> ZoeBEiT:
    torch.manual_seed(0)
    model = ZoeBEiT(**dict(TINY, **kw))
    _perturb(model)
    return model.eval()


# ------------------------------------------------ relative position bias
def _bilinear_half_pixel(img: np.ndarray, out_h: int, out_w: int):
    """Independent bilinear resize (align_corners=False) of (C, H, W)."""
    c, h, w = img.shape
    out = np.zeros((c, out_h, out_w))
    for i in range(out_h):
        y = max((i + 0.5) * h / out_h - 0.5, 0.0)
        y0 = min(int(math.floor(y)), h - 1)
        y1, fy = min(y0 + 1, h - 1), y - y0
        for j in range(out_w):
            x = max((j + 0.5) * w / out_w - 0.5, 0.0)
            x0 = min(int(math.floor(x)), w - 1)
            x1, fx = min(x0 + 1, w - 1), x - x0
            out[:, i, j] = ((1 - fy) * (1 - fx) * img[:, y0, x0] +
                            (1 - fy) * fx * img[:, y0, x1] +
                            fy * (1 - fx) * img[:, y1, x0] +
                            fy * fx * img[:, y1, x1])
    return out


def test_rel_pos_table_resize_matches_independent_bilinear():
    heads, (wh, ww), (gh, gw) = 3, (3, 3), (3, 5)
    table = torch.randn((2 * wh - 1) * (2 * ww - 1) + 3, heads,
                        dtype=torch.float64)
    new = resize_rel_pos_table(table, (wh, ww), (gh, gw))
    assert new.shape == ((2 * gh - 1) * (2 * gw - 1) + 3, heads)
    # MiDaS: the body viewed as (2*Ww-1, 2*Wh-1) maps, resized to
    # (2*gh-1, 2*gw-1); the three class-token rows appended unchanged
    body = table[:-3].numpy().reshape(2 * ww - 1, 2 * wh - 1, heads)
    ref = _bilinear_half_pixel(body.transpose(2, 0, 1), 2 * gh - 1,
                               2 * gw - 1).transpose(1, 2, 0)
    np.testing.assert_allclose(
        new[:-3].numpy(), ref.reshape(-1, heads), rtol=0, atol=1e-12)
    assert torch.equal(new[-3:], table[-3:])
    assert resize_rel_pos_table(table, (wh, ww), (wh, ww)) is table


def test_native_grid_equals_timm_beit():
    """On the table's own grid ZoeBEiT is timm's BEiT (hooked blocks)."""
    ours = _tiny_beit(attn_impl='timm')
    ref = timm.create_model('beit_large_patch16_384', pretrained=False,
                            num_classes=0, img_size=64, embed_dim=32,
                            depth=4, num_heads=2).eval()
    missing, unexpected = ref.load_state_dict(
        ours.model.state_dict(), strict=False)
    assert not unexpected and set(missing) <= {
        'norm.weight', 'norm.bias', 'fc_norm.weight', 'fc_norm.bias'}
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        outs = ours(x)
        feats = ref.forward_intermediates(
            x, indices=[0, 1, 2, 3], return_prefix_tokens=True, norm=False,
            intermediates_only=True)
    assert len(outs) == 4 and len(feats) == 4
    for (patches, cls_tok), (spatial, prefix) in zip(outs, feats):
        assert patches.shape == (2, 32, 4, 4) and cls_tok.shape == (2, 32)
        torch.testing.assert_close(patches, spatial, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(cls_tok, prefix[:, 0], rtol=1e-5,
                                   atol=1e-5)


def test_fused_equals_explicit_on_other_grids_and_in_training():
    explicit = _tiny_beit(attn_impl='timm')
    fused = _tiny_beit(attn_impl='sdpa')
    fused.load_state_dict(explicit.state_dict())
    x = torch.randn(1, 3, 48, 80)  # 3x5 grid, tables made for 4x4
    with torch.no_grad():
        for a, b in zip(explicit(x), fused(x)):
            torch.testing.assert_close(a[0], b[0], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(a[1], b[1], rtol=1e-5, atol=1e-5)
    grads = []
    for model in (explicit, fused):
        model.train()
        model.zero_grad()
        sum(p.square().mean() + c.mean() for p, c in model(x)).backward()
        grads.append(model.model.blocks[1].attn.relative_position_bias_table
                     .grad.clone())
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_eval_cache_follows_weight_updates():
    model = _tiny_beit()
    x = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        first = model(x)[-1][0].clone()
        assert torch.equal(model(x)[-1][0], first)
        for blk in model.model.blocks:  # (a constant would cancel)
            table = blk.attn.relative_position_bias_table
            table.add_(torch.randn(table.shape))
        assert not torch.allclose(model(x)[-1][0], first)


def test_bad_inputs_name_the_problem():
    model = _tiny_beit()
    with pytest.raises(ValueError, match='multiples of the patch size'):
        model(torch.randn(1, 3, 50, 64))
    with pytest.raises(ValueError, match='pretrained'):
        ZoeBEiT(pretrained=True, **TINY)
    with pytest.raises(ValueError, match='out_indices'):
        ZoeBEiT(**dict(TINY, out_indices=(0, 4)))


# ------------------------------------------------------------ preprocessor
def test_keep_ratio_sizes_follow_upstreams_minimal_rule():
    dp = ZoeDepthDataPreProcessor(size=(384, 512), keep_ratio=True,
                                  resize_method='minimal', size_divisor=32)
    # hand-computed with upstream's Resize(keep_aspect_ratio=True,
    # ensure_multiple_of=32, resize_method='minimal')
    assert dp.network_size(480, 640) == (384, 512)
    assert dp.network_size(384, 512) == (384, 512)
    assert dp.network_size(352, 1216) == (384, 1312)  # 1326.5 -> 41 * 32
    assert dp.network_size(1000, 500) == (1024, 512)  # width: 1.024 wins
    squash = ZoeDepthDataPreProcessor(size=(384, 512))
    assert squash.network_size(352, 1216) == (384, 512)
    img = torch.randint(0, 255, (3, 352, 1216), dtype=torch.uint8)
    out = dp(dict(inputs=[img]))['inputs']
    assert out.shape == (1, 3, 384, 1312)


# --------------------------------------------------------------- converters
@pytest.fixture(scope='module')
def meta_beitl_state():
    """Full-size ZoeD_M12_N model on the meta device (names and shapes)."""
    cfg = Config.fromfile(str(BEIT_CFG))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    counts = {
        part: sum(p.numel() for p in getattr(model, part).parameters())
        for part in ('backbone', 'neck', 'decode_head')
    }
    return model.state_dict(), counts


def _upstream_keys(name: str = 'zoe_beitl384_keys.txt') -> dict:
    out = {}
    for line in (DATA / name).read_text().splitlines():
        key, shape, dtype = line.split('\t')
        shape = tuple(int(s) for s in re.findall(r'\d+', shape))
        out[key] = torch.empty(shape, dtype=getattr(torch, dtype),
                               device='meta')
    return out


def test_upstream_zoed_n_keys_all_placed(meta_beitl_state):
    target, counts = meta_beitl_state
    upstream = _upstream_keys()
    assert len(upstream) == 535
    converted = convert_zoedepth_any_keys(upstream)
    check_against_model_keys(converted, target)
    # upstream (run_reference.py --mode info, timm 0.6.13): MiDaS BEiT-L-384
    # 344,338,601 of which the unused ImageNet classifier (fc_norm + head)
    # 1,027,048; metric head 478,145
    assert counts['backbone'] + counts['neck'] == 344_338_601 - 1_027_048
    assert counts['decode_head'] == 478_145
    dropped = sorted(set(upstream) - {
        k for k, v in upstream.items()
        if any(v is c for c in converted.values())})
    assert all(
        k.endswith('relative_position_index') or '.fc_norm.' in k
        or '.model.head.' in k for k in dropped), dropped
    bad = dict(upstream, **{'core.core.pretrained.act_postprocess5.3.weight':
                            torch.empty(1, device='meta'),
                            'mystery.weight': torch.empty(1, device='meta')})
    with pytest.raises(CheckpointConversionError) as err:
        convert_zoedepth_any_keys(bad)
    assert 'act_postprocess5.3.weight' in str(err.value)
    assert 'mystery.weight' in str(err.value)


def test_midas_beit_core_keys_all_placed(meta_beitl_state):
    target, _ = meta_beitl_state
    midas = _upstream_keys('midas_beitl384_keys.txt')
    assert len(midas) == 487
    core = convert_midas_any_keys(midas)
    check_against_model_keys(core, target, prefixes=('backbone.', 'neck.'))


def test_zoedepth_cli_converts_tiny_beit_roundtrip(tmp_path):
    """A tiny model's weights in upstream's layout convert back exactly."""
    cfg = Config.fromfile(str(TINY_CFG))
    model = MODELS.build(cfg.model)
    _perturb(model)
    sd = model.state_dict()
    inv = {}
    for key, value in sd.items():
        m = re.match(r'neck\.reassemble\.(readout_projects|projects|'
                     r'resize_layers)\.(\d)\.(?:0\.)?(weight|bias)$', key)
        if key.startswith('backbone.model.'):
            new = 'core.core.pretrained.model.' + key[len('backbone.model.'):]
        elif m:
            sub = {'readout_projects': '0.project.0', 'projects': '3',
                   'resize_layers': '4'}[m.group(1)]
            new = (f'core.core.pretrained.act_postprocess'
                   f'{int(m.group(2)) + 1}.{sub}.{m.group(3)}')
        elif key.startswith('neck.relative_head.conv'):
            i = {'1': 0, '2': 2, '3': 4}[key.split('.')[2][-1]]
            new = f'core.core.scratch.output_conv.{i}.{key.split(".")[-1]}'
        elif key.startswith('neck.'):
            new = 'core.core.scratch.' + key[len('neck.'):]
        else:
            new = key[len('decode_head.'):]
        inv[new] = value
    src, dst = tmp_path / 'zoe.pt', tmp_path / 'zoe_mmzoe.pth'
    torch.save({'model': inv}, src)
    sys.path.insert(0, str(ROOT / 'tools' / 'model_converters'))
    import zoedepth_to_mmzoe
    assert zoedepth_to_mmzoe.main([str(src), str(dst)]) == 0
    out = torch.load(dst, weights_only=True)['state_dict']
    assert set(out) == set(sd)
    assert all(torch.equal(out[k], sd[k]) for k in sd)


# -------------------------------------------------------------- transformers
def test_hf_folder_converts_and_matches_transformers(tmp_path):
    pytest.importorskip('transformers')
    from transformers import ZoeDepthForDepthEstimation
    sys.path.insert(0, str(ROOT / 'tools' / 'analysis_tools'))
    sys.path.insert(0, str(ROOT / 'tools' / 'model_converters'))
    import check_hf_equivalence as check
    import hf_zoedepth_to_mmzoe as converter

    from mmzoe.apis import init_model
    torch.manual_seed(0)
    hf = ZoeDepthForDepthEstimation(check.hf_zoe_config('n', tiny=True)).eval()
    check.perturb_(hf, 0)
    folder = tmp_path / 'hf'
    hf.save_pretrained(folder)
    assert (folder / 'model.safetensors').is_file()
    ckpt = tmp_path / 'out.pth'
    assert converter.main([str(folder), str(ckpt)]) == 0
    model = init_model(str(tmp_path / 'out_config.py'), str(ckpt))
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in hf.parameters())
    x = torch.rand(1, 3, 64, 96)  # 4x6 grid: bias tables resized
    with torch.no_grad():
        ref = hf(pixel_values=(x - 0.5) / 0.5).predicted_depth
        ours = model.forward_depths((x - 0.5) / 0.5)['depth'][:, 0]
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=0)
    # the same weights as pytorch_model.bin (weights_only) convert the same
    folder_bin = tmp_path / 'hf_bin'
    folder_bin.mkdir()
    (folder_bin / 'config.json').write_text(
        (folder / 'config.json').read_text())
    torch.save(hf.state_dict(), folder_bin / 'pytorch_model.bin')
    assert converter.main([str(folder_bin), str(tmp_path / 'b.pth')]) == 0
    a = torch.load(ckpt, weights_only=True)['state_dict']
    b = torch.load(tmp_path / 'b.pth', weights_only=True)['state_dict']
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_hf_nk_folder_converts_and_matches_transformers(tmp_path):
    pytest.importorskip('transformers')
    from transformers import ZoeDepthForDepthEstimation
    sys.path.insert(0, str(ROOT / 'tools' / 'analysis_tools'))
    sys.path.insert(0, str(ROOT / 'tools' / 'model_converters'))
    import check_hf_equivalence as check
    import hf_zoedepth_to_mmzoe as converter

    from mmzoe.apis import init_model
    torch.manual_seed(0)
    hf = ZoeDepthForDepthEstimation(
        check.hf_zoe_config('nk', tiny=True)).eval()
    check.perturb_(hf, 1)
    hf.save_pretrained(tmp_path / 'hf')
    ckpt = tmp_path / 'nk.pth'
    assert converter.main([str(tmp_path / 'hf'), str(ckpt)]) == 0
    model = init_model(str(tmp_path / 'nk_config.py'), str(ckpt))
    assert type(model.decode_head).__name__ == 'ZoeDepthNKHead'
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in hf.parameters())
    x = (torch.rand(1, 3, 64, 96) - 0.5) / 0.5
    with torch.no_grad():
        out = hf(pixel_values=x)
        ours = model.forward_depths(x)
    torch.testing.assert_close(ours['domain_logits'], out.domain_logits,
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours['depth'][:, 0], out.predicted_depth,
                               rtol=1e-4, atol=0)


def test_hf_k_folder_matches_transformers_through_the_tool(tmp_path, capsys):
    """ZoeD_K layout ('normed' bins, one KITTI head to 80 m): the HF check
    end to end (save_pretrained, converter, init_model, inference_depth)."""
    pytest.importorskip('transformers')
    sys.path.insert(0, str(ROOT / 'tools' / 'analysis_tools'))
    import check_hf_equivalence as check
    assert check.main(['--tiny', '--model', 'k', '--sizes', '44x152',
                       '--keep', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert '44x152 (network (160, 512))' in out and 'OK' in out
    head = Config.fromfile(
        str(tmp_path / 'hf_zoedepth-mmzoe_config.py')).model.decode_head
    assert head.bin_centers_type == 'normed' and head.max_depth == 80.0
    assert head.loss_decode.max_depth == 80.0 and head.n_bins == 16


def test_hf_converter_names_unplaceable_keys(tmp_path, capsys):
    sd = {'backbone.beit.layers.0.attention.q_proj.weight': torch.zeros(2, 2),
          'backbone.beit.layers.0.attention.k_proj.weight': torch.zeros(2, 2),
          'backbone.beit.layers.0.attention.v_proj.weight': torch.zeros(2, 2),
          'metric_head.patch_transformer.embedding_convPxP.weight':
          torch.zeros(1),
          'metric_head.mystery.weight': torch.zeros(1)}
    with pytest.raises(CheckpointConversionError) as err:
        convert_hf_zoedepth_keys(sd)
    msg = str(err.value)
    assert 'patch_transformer.embedding_convPxP' in msg
    assert 'metric_head.mystery.weight' in msg and 'ZoeD_NK' in msg
    # the NK mapping names what it cannot place as well
    from mmzoe.models.utils.ckpt_convert import convert_hf_zoedepth_nk_keys
    with pytest.raises(CheckpointConversionError) as err:
        convert_hf_zoedepth_nk_keys(
            {'metric_head.mlp_classifier.linear3.weight': torch.zeros(1)})
    assert 'metric_head.mlp_classifier.linear3.weight' in str(err.value)
    sys.path.insert(0, str(ROOT / 'tools' / 'model_converters'))
    import hf_zoedepth_to_mmzoe as converter
    assert converter.main([str(tmp_path), str(tmp_path / 'x.pth')]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and 'config.json' in err_lines[0]


def test_hf_v4_names_convert_like_v5_names():
    """The hub's files use transformers 4.x names; both layouts map alike."""
    pytest.importorskip('transformers')
    from transformers import ZoeDepthForDepthEstimation
    sys.path.insert(0, str(ROOT / 'tools' / 'analysis_tools'))
    import check_hf_equivalence as check
    v5 = ZoeDepthForDepthEstimation(
        check.hf_zoe_config('n', tiny=True)).state_dict()
    to_v4 = (
        (r'^backbone\.beit\.embeddings\.', 'backbone.embeddings.'),
        (r'^backbone\.beit\.layers\.(\d+)\.attention\.([qkv])_proj\.',
         lambda m: f'backbone.encoder.layer.{m.group(1)}.attention.'
         f'attention.{dict(q="query", k="key", v="value")[m.group(2)]}.'),
        (r'^backbone\.beit\.layers\.(\d+)\.attention\.o_proj\.',
         r'backbone.encoder.layer.\1.attention.output.dense.'),
        (r'^backbone\.beit\.layers\.(\d+)\.mlp\.fc1\.',
         r'backbone.encoder.layer.\1.intermediate.dense.'),
        (r'^backbone\.beit\.layers\.(\d+)\.mlp\.fc2\.',
         r'backbone.encoder.layer.\1.output.dense.'),
        (r'^backbone\.beit\.layers\.(\d+)\.relative_position_bias\.',
         r'backbone.encoder.layer.\1.attention.attention.'
         r'relative_position_bias.'),
        (r'^backbone\.beit\.layers\.', 'backbone.encoder.layer.'),
    )
    v4 = {}
    for key, value in v5.items():
        for pattern, repl in to_v4:
            new = re.sub(pattern, repl, key)
            if new != key:
                key = new
                break
        v4[key] = value
    assert any('attention.attention.query' in k for k in v4)
    a, b = convert_hf_zoedepth_keys(v5), convert_hf_zoedepth_keys(v4)
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
