"""ZoeDepth bin layers and log-binomial vs straightforward numpy references."""
import math

import numpy as np
import pytest
import torch

from mmzoe.models.layers import (AttractorLayer, AttractorLayerUnnormed,
                                 ConditionalLogBinomial, LogBinomial,
                                 Projector, SeedBinRegressor,
                                 SeedBinRegressorUnnormed)

torch.set_num_threads(1)


# ----------------------------------------------------------------- helpers
def np_conv1x1(x, conv):
    w = conv.weight.detach().double().numpy()[:, :, 0, 0]
    b = conv.bias.detach().double().numpy()
    return np.einsum('oc,bchw->bohw', w, x) + b[None, :, None, None]


def np_softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def np_relu(x):
    return np.maximum(x, 0)


def np_resize_ac(x, size):
    """Bilinear resize with align_corners=True, one pixel at a time."""
    b, c, h, w = x.shape
    oh, ow = size
    out = np.zeros((b, c, oh, ow))
    for i in range(oh):
        sy = i * (h - 1) / (oh - 1) if oh > 1 else 0.0
        y0 = int(math.floor(sy))
        y1 = min(y0 + 1, h - 1)
        fy = sy - y0
        for j in range(ow):
            sx = j * (w - 1) / (ow - 1) if ow > 1 else 0.0
            x0 = int(math.floor(sx))
            x1 = min(x0 + 1, w - 1)
            fx = sx - x0
            out[:, :, i, j] = ((1 - fy) * (1 - fx) * x[:, :, y0, x0] +
                               (1 - fy) * fx * x[:, :, y0, x1] +
                               fy * (1 - fx) * x[:, :, y1, x0] +
                               fy * fx * x[:, :, y1, x1])
    return out


def np_mlp(x, seq, final):
    return final(np_conv1x1(np_relu(np_conv1x1(x, seq[0])), seq[2]))


def close(a, b, rtol=1e-5):
    a = a.detach().double().numpy() if torch.is_tensor(a) else a
    scale = max(np.abs(b).max(), 1e-12)
    assert np.abs(a - b).max() <= rtol * scale, np.abs(a - b).max() / scale


def randomise(module, scale=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)


# ------------------------------------------------------------------ tests
def test_seed_regressors_and_projector():
    x = torch.randn(2, 6, 3, 4)
    xn = x.double().numpy()
    seed = SeedBinRegressor(6, n_bins=5, mlp_dim=7, min_depth=0.5,
                            max_depth=4.0)
    randomise(seed)
    w_normed, centers = seed(x)
    out = np_mlp(xn, seed._net, np_relu) + 1e-3
    ref_w = out / out.sum(1, keepdims=True)
    close(w_normed, ref_w)
    # explicit edges: min, min + w0, min + w0 + w1, ... ; centres = midpoints
    ref_c = np.zeros_like(ref_w)
    for k in range(5):
        lo = 0.5 + 3.5 * ref_w[:, :k].sum(1)
        hi = lo + 3.5 * ref_w[:, k]
        ref_c[:, k] = 0.5 * (lo + hi)
    close(centers, ref_c)
    assert centers.min() >= 0.5 and centers.max() <= 4.0

    seed_u = SeedBinRegressorUnnormed(6, n_bins=5, mlp_dim=7)
    randomise(seed_u)
    a, b = seed_u(x)
    close(a, np_mlp(xn, seed_u._net, np_softplus))
    assert a is b

    proj = Projector(6, 4, mlp_dim=3)
    randomise(proj)
    close(proj(x), np_mlp(xn, proj._net, lambda v: v))
    assert proj(x).min() < 0  # no final activation


def ref_attractor(layer, x, b_prev, prev_emb, normed, alpha, gamma, kind,
                  typ):
    """Explicit loops over attractors and bins (float64)."""
    x = x.double().numpy()
    prev = np_resize_ac(prev_emb.double().numpy(), x.shape[-2:])
    z = x + prev
    if normed:
        a_all = np_mlp(z, layer._net, np_relu) + 1e-3
        a_pts = a_all[:, 0::2]  # first element of each (n_a, 2) pair
    else:
        a_pts = np_mlp(z, layer._net, np_softplus)
    c = np_resize_ac(b_prev.double().numpy(), x.shape[-2:])
    delta = np.zeros_like(c)
    n_a = a_pts.shape[1]
    for a in range(n_a):
        for j in range(c.shape[1]):
            dx = a_pts[:, a] - c[:, j]
            if typ == 'inv':
                d = dx / (1 + alpha * dx**gamma)
            else:
                d = np.exp(-alpha * np.abs(dx)**gamma) * dx
            delta[:, j] += d / n_a if kind == 'mean' else d
    c_new = c + delta
    if not normed:
        return c_new, c_new
    lo, hi = layer.min_depth, layer.max_depth
    metric = np.clip(np.sort((hi - lo) * c_new + lo, axis=1), lo, hi)
    return c_new, metric


@pytest.mark.parametrize('normed', [False, True])
@pytest.mark.parametrize('typ,kind', [('inv', 'mean'), ('exp', 'sum'),
                                      ('inv', 'sum'), ('exp', 'mean')])
@pytest.mark.parametrize('upstream_constants', [True, False])
def test_attractor_layers(normed, typ, kind, upstream_constants):
    torch.manual_seed(1)
    cls = AttractorLayer if normed else AttractorLayerUnnormed
    alpha, gamma = 7.0, 2
    layer = cls(4, n_bins=6, n_attractors=3, mlp_dim=5, min_depth=0.2,
                max_depth=3.0, alpha=alpha, gamma=gamma, kind=kind,
                attractor_type=typ, upstream_constants=upstream_constants)
    randomise(layer, scale=0.4, seed=3)
    n_out = 6 if normed else 3
    assert layer._net[2].out_channels == n_out
    x = torch.randn(2, 4, 5, 6)
    prev_emb = torch.randn(2, 4, 3, 3)
    if normed:
        b_prev = torch.rand(2, 6, 3, 3)
    else:
        b_prev = torch.rand(2, 6, 3, 3) * 2.8 + 0.2
    c, metric = layer(x, b_prev, prev_b_embedding=prev_emb)
    eff_alpha, eff_gamma = (300.0, 2) if upstream_constants else (alpha,
                                                                  gamma)
    ref_c, ref_m = ref_attractor(layer, x, b_prev, prev_emb, normed,
                                 eff_alpha, eff_gamma, kind, typ)
    close(c, ref_c)
    close(metric, ref_m)
    if normed:
        assert torch.all(metric[:, 1:] >= metric[:, :-1])


def test_normed_attractor_ignores_second_pair_element():
    """Upstream quirk: the raw first channel of each pair is the attractor."""
    layer = AttractorLayer(4, n_bins=5, n_attractors=2, mlp_dim=3)
    randomise(layer, seed=5)
    x, b_prev = torch.randn(1, 4, 3, 3), torch.rand(1, 5, 3, 3)
    before = layer(x, b_prev)[0]
    with torch.no_grad():  # change only the second channel of every pair
        layer._net[2].weight[1::2] += 3.0
        layer._net[2].bias[1::2] += 3.0
    after = layer(x, b_prev)[0]
    torch.testing.assert_close(before, after, rtol=0, atol=0)


def test_attractor_bad_options():
    with pytest.raises(ValueError, match='kind'):
        AttractorLayerUnnormed(4, kind='median')
    with pytest.raises(ValueError, match='attractor_type'):
        AttractorLayer(4, attractor_type='lin')


def ref_log_binomial(p, t, k_count, eps=1e-4, beps=1e-7):
    """Per-bin loop with upstream's epsilons (float64)."""
    n = k_count - 1
    q = np.clip(p, eps, 1)
    qb = np.clip(1 - p, eps, 1)
    ys = []
    for k in range(k_count):
        n_, k_ = n + beps, k + beps
        logc = n_ * math.log(n_) - k_ * math.log(k_) - (n_ - k_) * math.log(
            n_ - k_ + beps)
        ys.append(logc + k * np.log(q) + (n - k) * np.log(qb))
    y = np.stack(ys, 1) / t
    y = y - y.max(1, keepdims=True)
    e = np.exp(y)
    return e / e.sum(1, keepdims=True)


def test_log_binomial_buffers_and_values():
    lb = LogBinomial(64)
    sd = lb.state_dict()
    assert sd['k_idx'].dtype == torch.int64
    assert tuple(sd['k_idx'].shape) == (1, 64, 1, 1)
    assert sd['K_minus_1'].dtype == torch.float32
    assert tuple(sd['K_minus_1'].shape) == (1, 1, 1, 1)
    assert sd['K_minus_1'].item() == 63
    # p covers both clamps (p < 1e-4, p > 1 - 1e-4) and t spans 0.02 .. 50
    p = torch.tensor([0.0, 3e-5, 0.1, 0.5, 0.77, 0.99995, 1.0]).view(1, 7, 1)
    t = torch.tensor([0.0212, 0.05, 0.3, 1.0, 5.0, 20.0, 50.0]).view(
        1, 1, 7, 1)
    out = lb(p, t)
    assert out.shape == (1, 64, 7, 1)
    ref = ref_log_binomial(p.double().numpy(),
                           t.double().numpy(), 64)
    close(out, ref, rtol=2e-5)
    torch.testing.assert_close(out.sum(1), torch.ones(1, 7, 1))


@pytest.mark.parametrize('strip_bytes', [1, 3 * 8 * 5 * 4, 2**30])
def test_log_binomial_expectation_matches_unfused(monkeypatch, strip_bytes):
    """``LogBinomial.expectation`` (strips of rows of any size, the last one
    partial; probabilities recomputed in the backward pass) gives the value
    and the gradients (p, t, values) of ``sum(lb(p, t) * values, 1)``:
    within float32 rounding of float64 autograd inside the clamp bounds, and
    like float32 autograd at and beyond both bounds."""
    from mmzoe.models.layers import log_binomial as lbm
    monkeypatch.setattr(lbm, '_STRIP_BYTES', strip_bytes)
    lb = LogBinomial(8)
    gen = torch.Generator().manual_seed(0)
    values = 10 * torch.rand(2, 8, 7, 5, generator=gen)
    grad_out = torch.randn(2, 1, 7, 5, generator=gen)

    def run(p, t, fused, dt):
        leaves = [x.to(dt).clone().requires_grad_() for x in (p, t, values)]
        if fused:
            out = lb.expectation(*leaves)
        else:
            out = torch.sum(lb.to(dt)(leaves[0], leaves[1]) * leaves[2],
                            dim=1, keepdim=True)
            lb.float()
        out.backward(grad_out.to(dt))
        return [out.detach().double()] + [x.grad.double() for x in leaves]

    def check(got, ref, tol):
        for name, a, b in zip(('depth', 'p', 't', 'values'), got, ref):
            assert a.shape == b.shape, name
            assert b.abs().max() > 0, name
            assert ((a - b).abs().max() / b.abs().max()) < tol, name

    p = 0.02 + 0.96 * torch.rand(2, 7, 5, generator=gen)
    t = 0.3 + 3 * torch.rand(2, 1, 7, 5, generator=gen)
    got = run(p, t, True, torch.float32)
    assert got[0].shape == (2, 1, 7, 5)
    check(got, run(p, t, False, torch.float64), 1e-5)

    # clamp bounds: below, at (float32 1e-4) and above eps / 1 - eps
    p[0, 0] = torch.tensor([0.0, 5e-5, 1e-4, 0.5, 0.3])
    p[1, 0] = torch.tensor([1 - 1e-4, 1 - 5e-5, 1.0, 0.7, 0.4])
    t.fill_(1.0)
    got = run(p, t, True, torch.float32)
    assert all(torch.isfinite(g).all() for g in got)
    check(got, run(p, t, False, torch.float32), 1e-4)
    with pytest.raises(ValueError, match='values must have shape'):
        lb.expectation(p, t, values[:, :4])


def test_conditional_log_binomial():
    clb = ConditionalLogBinomial(5, 3, n_classes=8, min_temp=0.5,
                                 max_temp=4.0)
    assert clb.mlp[0].out_channels == (5 + 3) // 2
    randomise(clb, seed=2)
    x, cond = torch.randn(2, 5, 4, 3), torch.randn(2, 3, 4, 3)
    out = clb(x, cond)
    z = np.concatenate([x.double().numpy(), cond.double().numpy()], 1)
    h = np_conv1x1(z, clb.mlp[0])
    h = 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))  # GELU
    s = np_softplus(np_conv1x1(h, clb.mlp[2])) + 1e-4
    p = s[:, 0] / (s[:, 0] + s[:, 1])
    t = (4.0 - 0.5) * s[:, 2] / (s[:, 2] + s[:, 3]) + 0.5
    close(out, ref_log_binomial(p, t[:, None], 8))


def test_conditional_log_binomial_low_res_condition():
    """A smaller condition is projected, then upsampled: the same function
    as upstream's conv(cat(x, upsample(cond))) up to rounding (float64)."""
    import torch.nn.functional as F
    clb = ConditionalLogBinomial(5, 3, n_classes=8,
                                 project_condition=True).double()
    randomise(clb, seed=3)
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 5, 9, 13, generator=gen, dtype=torch.float64)
    cond = torch.randn(2, 3, 4, 6, generator=gen, dtype=torch.float64)
    up = F.interpolate(cond, size=(9, 13), mode='bilinear',
                       align_corners=True)
    s_ref = clb.mlp(torch.cat([x, up], 1))  # upstream's order
    s = clb._mlp(x, cond)
    assert s.shape == s_ref.shape == (2, 4, 9, 13)
    assert torch.allclose(s, s_ref, rtol=1e-12, atol=1e-12)
    # channels-last input gives the same numbers
    s_cl = clb._mlp(x.contiguous(memory_format=torch.channels_last), cond)
    assert torch.allclose(s_cl, s, rtol=1e-12, atol=1e-12)
    p, t = clb.mode_and_temperature(x, cond)
    p_ref, t_ref = clb.mode_and_temperature(x, up)
    # the default (upstream's order) upsamples the condition first
    clb.project_condition = False
    assert torch.equal(clb._mlp(x, cond), s_ref)
    assert torch.allclose(p, p_ref, rtol=1e-12, atol=0)
    assert torch.allclose(t, t_ref, rtol=1e-12, atol=0)
