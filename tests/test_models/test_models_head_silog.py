"""ZoeSILogLoss against a straightforward float64 numpy implementation."""
import math

import numpy as np
import pytest
import torch

from mmzoe.models.losses import ZoeSILogLoss
from mmzoe.models.losses import silog_loss as silog_module
from mmzoe.registry import MODELS

torch.set_num_threads(1)


def np_resize_ac(img, oh, ow):
    """Bilinear align_corners=True resize of one (h, w) map, pixel loops."""
    h, w = img.shape
    out = np.zeros((oh, ow))
    for i in range(oh):
        sy = i * (h - 1) / (oh - 1) if oh > 1 else 0.0
        y0 = min(int(math.floor(sy)), h - 1)
        y1 = min(y0 + 1, h - 1)
        fy = sy - y0
        for j in range(ow):
            sx = j * (w - 1) / (ow - 1) if ow > 1 else 0.0
            x0 = min(int(math.floor(sx)), w - 1)
            x1 = min(x0 + 1, w - 1)
            fx = sx - x0
            out[i, j] = ((1 - fy) * ((1 - fx) * img[y0, x0] + fx * img[y0, x1])
                         + fy * ((1 - fx) * img[y1, x0] + fx * img[y1, x1]))
    return out


def np_silog(preds, gts, lo=1e-3, hi=10.0, beta=0.15):
    """preds/gts: lists of 2-D arrays; pooled over all samples."""
    g = []
    # GT is float32: compare with the float32 bounds, as torch does
    lo, hi = np.float32(lo), np.float32(hi)
    for p, t in zip(preds, gts):
        p = np.asarray(p, np.float64)
        t = np.asarray(t, np.float32)
        if p.shape != t.shape:
            p = np_resize_ac(p, *t.shape)
        for v_p, v_t in zip(p.ravel(), t.ravel()):
            if lo < v_t < hi:  # NaN compares False
                g.append(
                    math.log(v_p + 1e-7) - math.log(float(v_t) + 1e-7))
    g = np.array(g)
    mean = g.sum() / len(g)
    var = ((g - mean)**2).sum() / (len(g) - 1)
    return 10 * math.sqrt(var + beta * mean**2)


def make_batch(seed=0, pred_hw=(6, 7), gt_hw=(11, 9)):
    g = torch.Generator().manual_seed(seed)
    pred = torch.rand(2, 1, *pred_hw, generator=g) * 5 + 0.05
    gt = torch.rand(2, 1, *gt_hw, generator=g) * 11
    gt[0, 0, 0, :] = 0
    gt[1, 0, 2, 3] = float('nan')
    gt[1, 0, 3, 3] = float('inf')
    gt[1, 0, 4, :2] = 10.0  # == max: invalid (strict)
    gt[0, 0, 5, :2] = 1e-3  # == min: invalid (strict)
    return pred, gt


def test_matches_reference_with_invalid_and_resize():
    pred, gt = make_batch()
    assert (gt > 10).any()
    loss = ZoeSILogLoss()(pred, gt)
    ref = np_silog([p[0].numpy() for p in pred], [t[0].numpy() for t in gt])
    assert loss.dtype == torch.float32
    assert abs(loss.item() - ref) <= 1e-5 * ref
    # (B, H, W) inputs, weight, name, registry
    loss3 = MODELS.build(dict(type='ZoeSILogLoss', loss_weight=0.3))(
        pred[:, 0], gt[:, 0])
    assert abs(loss3.item() - 0.3 * ref) <= 1e-5 * ref
    assert ZoeSILogLoss().loss_name == 'loss_silog'
    assert ZoeSILogLoss(loss_name='loss_x').loss_name == 'loss_x'


def test_custom_range_beta_and_valid_mask():
    pred, gt = make_batch(seed=1, pred_hw=(11, 9))
    mask = torch.ones_like(gt, dtype=torch.bool)
    mask[:, :, :, :3] = False
    loss = ZoeSILogLoss(min_depth=0.5, max_depth=8.0, beta=0.3)(
        pred, gt, valid_mask=mask)
    gt_masked = gt.clone()
    gt_masked[~mask] = 0
    ref = np_silog([p[0].numpy() for p in pred],
                   [t[0].numpy() for t in gt_masked],
                   lo=0.5,
                   hi=8.0,
                   beta=0.3)
    assert abs(loss.item() - ref) <= 1e-5 * ref


def test_list_targets_of_different_sizes():
    g = torch.Generator().manual_seed(2)
    pred = torch.rand(2, 1, 5, 5, generator=g) + 0.5
    gts = [torch.rand(1, 7, 9, generator=g) * 3, torch.rand(4, 6) * 3]
    loss = ZoeSILogLoss()(pred, gts)
    ref = np_silog([pred[0, 0].numpy(), pred[1, 0].numpy()],
                   [gts[0][0].numpy(), gts[1].numpy()])
    assert abs(loss.item() - ref) <= 1e-5 * ref


def test_gradient_matches_reference():
    pred, gt = make_batch(seed=3, pred_hw=(11, 9))
    pred64 = pred.double().requires_grad_()
    mask = (gt > 1e-3) & (gt < 10)
    g = torch.log(pred64[mask] + 1e-7) - torch.log(gt.double()[mask] + 1e-7)
    ref = 10 * torch.sqrt(g.var() + 0.15 * g.mean()**2)
    ref.backward()
    p32 = pred.clone().requires_grad_()
    ZoeSILogLoss()(p32, gt).backward()
    torch.testing.assert_close(
        p32.grad.double(), pred64.grad, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize('n_valid', [0, 1])
def test_degenerate_batches(n_valid, monkeypatch):
    logged = []
    monkeypatch.setattr(silog_module, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    pred = (torch.rand(2, 1, 4, 4) + 0.1).requires_grad_()
    gt = torch.zeros(2, 1, 4, 4)
    if n_valid:
        gt[1, 0, 2, 2] = 3.0
    loss_fn = ZoeSILogLoss()
    for i in range(3):
        loss = loss_fn(pred, gt)
        assert loss.item() == 0.0 and loss.requires_grad
        loss.backward()
        assert torch.all(pred.grad == 0)
    assert loss_fn.num_empty_batches == 3
    assert len(logged) == 2  # 1st and 2nd, not the 3rd (rate limited)
    assert 'valid depth pixel' in logged[0]


def test_zero_d_gives_zero_loss_and_finite_grad():
    gt = torch.rand(1, 1, 5, 5) * 3 + 1
    pred = gt.clone().requires_grad_()
    loss = ZoeSILogLoss()(pred, gt)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(pred.grad).all()


def test_extreme_values_are_finite():
    gt = torch.tensor([[[[0.0011, 9.999, 5.0, 2.0], [1.0, 3.0, 7.0,
                                                      0.002]]]])
    pred = torch.tensor([[[[0.0, 1e6, 1e-30, -0.01], [3e38, 1.0, 2.0,
                                                      5.0]]]])
    pred.requires_grad_()
    loss = ZoeSILogLoss()(pred, gt)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    # where the prediction is non-negative the value equals the formula
    clamped = pred.detach().clamp(min=0)
    ref = np_silog([clamped[0, 0].numpy()], [gt[0, 0].numpy()])
    assert abs(loss.item() - ref) <= 1e-5 * ref
    # a non-finite prediction is not masked out: the loss shows it
    for value in (float('nan'), float('inf')):
        bad = torch.tensor([[[[value, 2.0, 4.0, 3.0]]]], requires_grad=True)
        out = ZoeSILogLoss()(bad, torch.tensor([[[[1.0, 2.5, 1.0, 2.0]]]]))
        assert not torch.isfinite(out)
    # only the ground truth decides which pixels count: a NaN prediction on
    # an invalid GT pixel is ignored
    bad = torch.tensor([[[[float('nan'), 2.0, 4.0, 3.0]]]],
                       requires_grad=True)
    out = ZoeSILogLoss()(bad, torch.tensor([[[[0.0, 2.5, 1.0, 2.0]]]]))
    out.backward()
    ref = np_silog([np.array([2.0, 4.0, 3.0])], [np.array([2.5, 1.0, 2.0])])
    assert abs(out.item() - ref) <= 1e-5 * ref
    assert torch.isfinite(bad.grad).all()


def test_fp32_under_autocast():
    pred, gt = make_batch(seed=4)
    ref = ZoeSILogLoss()(pred, gt)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = ZoeSILogLoss()(pred, gt)
        loss_half = ZoeSILogLoss()(pred.bfloat16(), gt)
    assert loss.dtype == torch.float32 and loss_half.dtype == torch.float32
    torch.testing.assert_close(loss, ref)
    ref_half = ZoeSILogLoss()(pred.bfloat16().float(), gt)
    torch.testing.assert_close(loss_half, ref_half)


def test_shape_errors():
    with pytest.raises(ValueError, match='batch sizes differ'):
        ZoeSILogLoss()(torch.rand(2, 1, 4, 4), torch.rand(3, 1, 4, 4))
    with pytest.raises(ValueError, match='pred must have shape'):
        ZoeSILogLoss()(torch.rand(2, 3, 4, 4), torch.rand(2, 1, 4, 4))
