"""ZoeDepthHead: upstream test vector, parameter counts, variants, losses."""
import os.path as osp

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.structures import SegDataSample

from mmzoe.models.decode_heads import ZoeDepthHead
from mmzoe.models.losses import ZoeSILogLoss
from mmzoe.models.utils import ZoeCoreOutput
from mmzoe.models.utils.ckpt_convert import convert_zoedepth_head_keys
from mmzoe.registry import MODELS

torch.set_num_threads(1)

TESTVEC = osp.join(
    osp.dirname(__file__), 'data', 'zoe_head_testvec_s32_seed0.pt')

TINY = dict(
    in_channels=16,
    decoder_channels=(12, 12, 12, 12),
    out_conv_channels=8,
    n_bins=8,
    bin_embedding_dim=6,
    n_attractors=(3, 2, 2, 1),
    seed_mlp_dim=10,
    projector_mlp_dim=7,
    attractor_mlp_dim=5)


def tiny_inputs(batch=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = size
    shapes = [(16, s // 32), (12, s // 16), (12, s // 8), (12, s // 4),
              (12, s // 2), (8, s)]
    feats = [torch.randn(batch, c, h, h, generator=g) for c, h in shapes]
    feats[5] = feats[5].relu()
    rel = torch.rand(batch, 1, s, s, generator=g) * 3
    return ZoeCoreOutput(bottleneck=feats[0], decoder=feats[1:5],
                         out_conv=feats[5], rel_depth=rel)


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def test_upstream_test_vector():
    vec = torch.load(TESTVEC, weights_only=True)
    head = ZoeDepthHead(**vec['config'])
    converted = convert_zoedepth_head_keys(vec['head_state_dict'])
    assert all(k.startswith('decode_head.') for k in converted)
    head.load_state_dict(
        {k[len('decode_head.'):]: v
         for k, v in converted.items()}, strict=True)
    head.eval()
    f = vec['features']
    # rel_depth is (1, 32, 32) as upstream returns it: the head adds the dim
    inputs = ZoeCoreOutput(
        bottleneck=f['l4_rn'], decoder=(f['r4'], f['r3'], f['r2'], f['r1']),
        out_conv=f['out_conv'], rel_depth=vec['rel_depth'])
    with torch.no_grad():
        out = head(inputs, return_extras=True)
        depth = head(inputs)
    for key in ('metric_depth', 'bin_centers', 'probs'):
        assert out[key].shape == vec[key].shape, key
        assert rel_err(out[key], vec[key]) <= 1e-5, (key,
                                                     rel_err(out[key],
                                                             vec[key]))
    torch.testing.assert_close(
        out['metric_depth'], vec['metric_depth'], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(depth, out['metric_depth'])
    # Applying the configured alpha (1000) instead of upstream's effective
    # 300 is measurably different: the vector pins the upstream behaviour.
    head_cfg = ZoeDepthHead(**vec['config'],
                            attractor_upstream_constants=False)
    head_cfg.load_state_dict(head.state_dict())
    with torch.no_grad():
        other = head_cfg(inputs)
    assert rel_err(other, vec['metric_depth']) > 1e-4


def test_parameter_counts_and_keys():
    head = ZoeDepthHead()

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(head) == 478145
    expected = dict(
        conv2=65792,
        seed_bin_regressor=82240,
        seed_projector=49408,
        projectors=197632,
        attractors=69789,
        conditional_log_binomial=13284)
    for name, n in expected.items():
        assert count(getattr(head, name)) == n, name
    assert [count(a) for a in head.attractors] == [18576, 17544, 17028, 16641]
    assert not hasattr(head, 'conv_seg') and head.dropout is None
    sd = head.state_dict()
    assert len(sd) == 48
    assert sd['conditional_log_binomial.log_binomial_transform.k_idx'].dtype \
        == torch.int64
    assert tuple(sd['attractors.3._net.2.weight'].shape) == (1, 128, 1, 1)
    assert tuple(sd['conditional_log_binomial.mlp.0.weight'].shape) == (80,
                                                                        161,
                                                                        1, 1)


def test_build_from_registries():
    cfg = dict(type='ZoeDepthHead', **TINY)
    head = MODELS.build(cfg)
    assert isinstance(head, ZoeDepthHead)
    assert isinstance(head.loss_decode, ZoeSILogLoss)
    head2 = MMSEG_MODELS.build(dict(cfg, type='mmzoe.ZoeDepthHead'))
    assert isinstance(head2, ZoeDepthHead)
    assert head.align_corners is True and head.out_channels == 1


@pytest.mark.parametrize('variant',
                         ['softplus', 'normed', 'hybrid1', 'hybrid2'])
def test_variants_finite_and_gradients(variant):
    torch.manual_seed(0)
    head = ZoeDepthHead(**TINY, bin_centers_type=variant, min_depth=0.1,
                        max_depth=5.0)
    inputs = tiny_inputs()
    out = head(inputs, return_extras=True)
    depth = out['metric_depth']
    assert depth.shape == (2, 1, 32, 32)
    assert out['bin_centers'].shape == (2, 8, 32, 32)
    assert out['probs'].shape == (2, 8, 32, 32)
    torch.testing.assert_close(out['probs'].sum(1), torch.ones(2, 32, 32))
    assert torch.isfinite(depth).all()
    if variant in ('normed', 'hybrid2'):  # sorted + clipped metric centres
        assert depth.min() >= 0.1 - 1e-6 and depth.max() <= 5.0 + 1e-6
        c = out['bin_centers']
        assert torch.all(c[:, 1:] >= c[:, :-1] - 1e-6)
    else:
        assert depth.min() > -0.5  # at most a few attractor overshoots
    depth.mean().backward()
    for name, p in head.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        if variant == 'softplus':
            assert p.grad.abs().sum() > 0, name


def test_rejects_bad_config():
    with pytest.raises(ValueError, match='bin_centers_type'):
        ZoeDepthHead(**TINY, bin_centers_type='linear')
    with pytest.raises(TypeError, match='bottleneck width'):
        ZoeDepthHead(in_channels=(256, 256, 256, 256, 256, 32, 1))
    with pytest.raises(ValueError, match='decoder_channels'):
        ZoeDepthHead(decoder_channels=(256, 256))
    with pytest.raises(ValueError, match='n_attractors'):
        ZoeDepthHead(**dict(TINY, n_attractors=(4, 2)))


def make_sample(gt):
    s = SegDataSample()
    s.gt_depth_map = PixelData(data=gt)
    return s


def test_loss_matches_direct_silog():
    torch.manual_seed(0)
    head = ZoeDepthHead(**TINY)
    inputs = tiny_inputs()
    gts = torch.rand(2, 1, 45, 61) * 4 + 0.5
    gts[0, 0, :5] = 0  # invalid rows
    samples = [make_sample(gts[i]) for i in range(2)]
    losses = head.loss(inputs, samples, None)
    assert set(losses) == {'loss_silog'}
    with torch.no_grad():
        direct = ZoeSILogLoss()(head(inputs), gts)
    torch.testing.assert_close(losses['loss_silog'].detach(), direct)
    losses['loss_silog'].backward()
    assert head.conv2.weight.grad is not None


def test_loss_list_and_different_gt_sizes():
    torch.manual_seed(0)
    head = ZoeDepthHead(
        **TINY,
        loss_decode=[
            dict(type='ZoeSILogLoss'),
            dict(type='ZoeSILogLoss', loss_weight=0.5),
            dict(type='ZoeSILogLoss', beta=0.0, loss_name='loss_var'),
        ])
    inputs = tiny_inputs()
    gt_a = torch.rand(1, 40, 50) * 4 + 0.5
    gt_b = torch.rand(1, 30, 33) * 4 + 0.5
    losses = head.loss(inputs, [make_sample(gt_a), make_sample(gt_b)], None)
    assert set(losses) == {'loss_silog', 'loss_var'}
    with torch.no_grad():
        pred = head(inputs)
    # independent pooling: each prediction resized to its own GT
    from torch.nn.functional import interpolate
    g = []
    for i, gt in enumerate((gt_a, gt_b)):
        p = interpolate(
            pred[i:i + 1], size=gt.shape[-2:], mode='bilinear',
            align_corners=True)[0]
        g.append((torch.log(p + 1e-7) - torch.log(gt + 1e-7)).flatten())
    g = torch.cat(g).double()
    ref = 10 * torch.sqrt(g.var() + 0.15 * g.mean()**2)
    torch.testing.assert_close(
        losses['loss_silog'].double(), 1.5 * ref, rtol=1e-5, atol=0)
    torch.testing.assert_close(
        losses['loss_var'].double(),
        10 * torch.sqrt(g.var()),
        rtol=1e-5,
        atol=0)


def test_loss_crops_preprocessor_padding():
    """GT padded by the data preprocessor is cropped to ``gt_depth_shape``."""
    torch.manual_seed(0)
    head = ZoeDepthHead(**TINY)
    inputs = tiny_inputs()
    gt_a = torch.rand(1, 40, 50) * 4 + 0.5
    gt_b = torch.rand(1, 30, 33) * 4 + 0.5
    plain = head.loss(inputs, [make_sample(gt_a), make_sample(gt_b)], None)
    padded_b = torch.zeros(1, 40, 50)
    padded_b[:, :30, :33] = gt_b
    samples = [make_sample(gt_a), make_sample(padded_b)]
    samples[0].set_metainfo(dict(gt_depth_shape=(40, 50)))
    samples[1].set_metainfo(dict(gt_depth_shape=(30, 33)))
    cropped = head.loss(inputs, samples, None)
    torch.testing.assert_close(cropped['loss_silog'], plain['loss_silog'])
    # without the metainfo the padded zeros are masked but the prediction is
    # stretched over the padded canvas: a different value
    naive = head.loss(inputs, [make_sample(gt_a), make_sample(padded_b)],
                      None)
    assert abs(naive['loss_silog'].item() -
               plain['loss_silog'].item()) > 1e-4


def test_full_size_forward_and_flops():
    """One 384x384 forward; FLOPs per part equal the spec's measurement of
    upstream (section 6: projectors 4.81, attractors 1.63, CLB 3.89,
    conv2 + seed regressor + seed projector 0.06 GFLOP). With
    ``clb_project_condition=True`` the 128-channel embedding is convolved at
    its 192x192 size and the 80-channel result upsampled (same function):
    2 * 80 * (33 * 384² + 128 * 192²) + 2 * 4 * 80 * 384² = 1.63 GFLOP."""
    from torch.utils.flop_counter import FlopCounterMode
    head = ZoeDepthHead().eval()
    g = torch.Generator().manual_seed(0)
    sizes = [(256, 12), (256, 24), (256, 48), (256, 96), (256, 192),
             (32, 384), (1, 384)]
    f = [torch.rand(1, c, s, s, generator=g) for c, s in sizes]
    inputs = ZoeCoreOutput(bottleneck=f[0], decoder=f[1:5], out_conv=f[5],
                           rel_depth=f[6])
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        depth = head(inputs)
    assert depth.shape == (1, 1, 384, 384)
    assert torch.isfinite(depth).all() and depth.min() > 0
    flops = {
        k: sum(v.values())
        for k, v in counter.get_flop_counts().items()
    }

    def gflop(*names):
        return sum(flops[f'ZoeDepthHead.{n}'] for n in names) / 1e9

    assert round(gflop(*[f'projectors.{i}' for i in range(4)]), 2) == 4.81
    assert round(gflop(*[f'attractors.{i}' for i in range(4)]), 2) == 1.63
    assert round(gflop('conditional_log_binomial'), 2) == 3.89
    assert round(gflop('conv2', 'seed_bin_regressor', 'seed_projector'),
                 2) == 0.06

    fast = ZoeDepthHead(clb_project_condition=True).eval()
    fast.load_state_dict(head.state_dict())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        depth_fast = fast(inputs)
    clb = sum(counter.get_flop_counts()[
        'ZoeDepthHead.conditional_log_binomial'].values())
    assert round(clb / 1e9, 2) == 1.63
    assert torch.allclose(depth_fast, depth, rtol=1e-5, atol=0)
