"""ZoeDepth-NK: router, per-image routing, picked domain through the user
path, router loss, NK converter (tiny model, random weights)."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import mmzoe  # noqa: F401
from mmzoe.apis import inference_depth, init_model
from mmzoe.models.layers import sinusoidal_position_code
from mmzoe.models.utils.ckpt_convert import (CheckpointConversionError,
                                             convert_zoedepth_nk_keys,
                                             is_zoedepth_nk_state_dict)
from mmzoe.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
NK_TINY = ROOT / 'configs/_base_/models/zoedepth_nk_tiny.py'


@pytest.fixture(scope='module')
def model():
    init_default_scope('mmzoe')
    torch.manual_seed(0)
    m = MODELS.build(Config.fromfile(str(NK_TINY)).model)
    m.init_weights()
    return m.eval()


def _force(model, domain):
    """Make the router's last layer vote for ``domain`` whatever the input."""
    last = model.decode_head.router.mlp_classifier[2]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([50.0, -50.0] if domain == 0
                                     else [-50.0, 50.0]))


def test_position_code_formula():
    code = sinusoidal_position_code(5, 8)
    for p in range(5):
        for j in range(4):
            w = 10000 ** (-(2 * j) / 8)
            assert code[p, j].item() == pytest.approx(math.sin(p * w),
                                                      abs=1e-6)
            assert code[p, 4 + j].item() == pytest.approx(math.cos(p * w),
                                                          abs=1e-6)


def test_vote_image_and_batch():
    from mmzoe.models.layers import ZoePatchTransformerRouter
    logits = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 1.5]])
    pick, _ = ZoePatchTransformerRouter.vote(logits, per_image=True)
    assert pick.tolist() == [0, 1, 1]
    pick, probs = ZoePatchTransformerRouter.vote(logits, per_image=False)
    # upstream's vote: summed logits 3.0 vs 2.5 -> nyu for all, although
    # two of the three images lean to kitti
    assert pick.tolist() == [0, 0, 0]
    assert probs.shape == (1, 2)


def test_per_image_routing_equals_single_images(model):
    torch.manual_seed(1)
    x = torch.randn(2, 3, 64, 64)
    feats = model.extract_feat(x)
    head = model.decode_head
    with torch.no_grad():
        both = head(feats, domains=torch.tensor([0, 1]), return_extras=True)
        for i, d in enumerate((0, 1)):
            one = head(feats.apply(lambda t, i=i: t[i:i + 1]),
                       domains=torch.tensor([d]))
            torch.testing.assert_close(both['metric_depth'][i:i + 1], one,
                                       rtol=1e-5, atol=1e-6)
    assert both['domain'].tolist() == [0, 1]
    assert both['domain_logits'].shape == (2, 2)
    # different bin counts per domain: centres come back per image
    assert [c.shape[0] for c in both['bin_centers']] == [16, 12]


def test_inference_returns_domain_and_clamps_to_it(model, tmp_path):
    ckpt = tmp_path / 'nk_tiny.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    user = init_model(str(NK_TINY), str(ckpt))
    img = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(
        np.uint8)
    for d, name, hi in ((0, 'nyu', 10.0), (1, 'kitti', 80.0)):
        _force(user, d)
        depth, rel, dom = inference_depth(user, img, return_relative=True,
                                          return_domain=True)
        assert dom == name and depth.shape == rel.shape == (40, 56)
        assert depth.max() <= hi and depth.min() >= 1e-3
    depths, doms = inference_depth(user, [img, img[:20]], flip=True,
                                   return_domain=True)
    assert doms == ['kitti', 'kitti'] and depths[1].shape == (20, 56)
    assert inference_depth(user, [], return_domain=True) == ([], [])


def test_router_loss_trains_the_router(model):
    model.train()
    torch.manual_seed(2)
    x = torch.randn(2, 3, 64, 64)
    samples = []
    for i, dom in enumerate(('nyu', 'kitti')):
        s = SegDataSample(metainfo=dict(domain=dom, img_shape=(64, 64),
                                        ori_shape=(64, 64)))
        gt = torch.rand(1, 64, 64) * (8 if dom == 'nyu' else 60) + 0.5
        s.gt_depth_map = PixelData(data=gt)
        samples.append(s)
    losses = model.loss(x, samples)
    assert set(losses) == {'decode.loss_silog', 'decode.loss_domain'} or \
        'decode.loss_domain' in losses
    total = sum(v for v in losses.values())
    assert torch.isfinite(total)
    total.backward()
    router_grad = model.decode_head.router.mlp_classifier[2].weight.grad
    assert router_grad is not None and router_grad.abs().sum() > 0
    model.zero_grad()
    bad = [SegDataSample(metainfo=dict(img_shape=(64, 64)))] * 2
    for s in bad:
        s.gt_depth_map = PixelData(data=torch.ones(1, 64, 64))
    with pytest.raises(KeyError, match='no "domain" metainfo'):
        model.loss(x, bad)
    model.eval()


def _upstream_layout(model):
    """mmzoe NK state dict back in upstream's key names (core faked)."""
    sd = {}
    for k, v in model.state_dict().items():
        if k.startswith('decode_head.router.'):
            sd[k[len('decode_head.router.'):]] = v
        elif k.startswith('decode_head.'):
            sd[k[len('decode_head.'):]] = v
        else:
            sd['core.core.' + k] = v
    return sd


def test_nk_converter_places_every_key_and_names_the_rest(model):
    sd = _upstream_layout(model)
    core = {k: v for k, v in model.state_dict().items()
            if not k.startswith('decode_head.')}

    def map_core(part):
        return {k: part[k] for k in core}, [k for k in part if k not in core]

    out = convert_zoedepth_nk_keys(sd, map_core=map_core)
    assert set(out) == set(model.state_dict())
    for k, v in model.state_dict().items():
        assert out[k] is sd.get(k[len('decode_head.router.'):]) or \
            torch.equal(out[k], v)
    sd['attractors.nyu.0._net.9.weight'] = torch.zeros(1)
    sd['router_extra.weight'] = torch.zeros(1)
    with pytest.raises(CheckpointConversionError) as err:
        convert_zoedepth_nk_keys(sd, map_core=map_core)
    assert 'attractors.nyu.0._net.9.weight' in str(err.value)
    assert 'router_extra.weight' in str(err.value)
    # the dispatcher tells the routed layout from the single-head one
    assert is_zoedepth_nk_state_dict(sd)
    assert not is_zoedepth_nk_state_dict(
        {k: v for k, v in sd.items() if not k.startswith(
            ('seed_bin_regressors', 'patch_transformer', 'mlp_classifier'))})
