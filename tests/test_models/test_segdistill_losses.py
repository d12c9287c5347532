"""ZoeMaskedDiceLoss / ZoeSoftmaxFocalLoss vs straightforward loop versions."""
import math

import numpy as np
import pytest
import torch

import mmzoe  # noqa: F401
from mmzoe.models.losses import ZoeMaskedDiceLoss, ZoeSoftmaxFocalLoss
from mmzoe.registry import MODELS

from zoe_testing import IGNORE, ref_dice, ref_focal


def _data(seed, n=2, c=5, h=6, w=7, ignore_frac=0.3, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=g) * scale
    labels = torch.randint(0, c, (n, h, w), generator=g)
    drop = torch.rand(n, h, w, generator=g) < ignore_frac
    labels[drop] = IGNORE
    return logits, labels


@pytest.mark.parametrize('seed', [0, 1])
@pytest.mark.parametrize('smooth', [1.0, 0.0, 0.5])
def test_dice_matches_reference(seed, smooth):
    logits, labels = _data(seed)
    loss = ZoeMaskedDiceLoss(smooth=smooth, loss_weight=1.0)
    got = loss(logits, labels, ignore_index=IGNORE).item()
    want = ref_dice(logits.numpy(), labels.numpy(), smooth=smooth)
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    # loss_weight scales, uint8 labels and an (N, 1, H, W) target are accepted
    loss2 = ZoeMaskedDiceLoss(smooth=smooth, loss_weight=0.3)
    got2 = loss2(logits, labels.to(torch.uint8).unsqueeze(1)).item()
    assert got2 == pytest.approx(0.3 * want, rel=1e-5, abs=1e-6)


def test_dice_ignored_pixels_do_not_matter():
    logits, labels = _data(3)
    loss = ZoeMaskedDiceLoss()
    base = loss(logits, labels).item()
    changed = logits.clone()
    ign = labels == IGNORE
    assert ign.any()
    sel = ign.unsqueeze(1).expand_as(changed)
    changed[sel] = torch.randn(int(sel.sum())) * 20
    assert loss(changed, labels).item() == pytest.approx(base, rel=1e-6)
    # and they differ from treating the same pixels as class 0
    as_zero = labels.clone()
    as_zero[ign] = 0
    assert abs(loss(logits, as_zero).item() - base) > 1e-4


def test_dice_pixel_weight_and_perfect_prediction():
    logits, labels = _data(4)
    weight = torch.rand(
        labels.shape, generator=torch.Generator().manual_seed(9))
    got = ZoeMaskedDiceLoss()(logits, labels, weight=weight).item()
    want = ref_dice(logits.numpy(), labels.numpy(), weight=weight.numpy())
    assert got == pytest.approx(want, rel=1e-5)
    # near one-hot logits on every labelled pixel: loss ~ 0
    perfect = torch.nn.functional.one_hot(
        labels.clamp(max=4), 5).permute(0, 3, 1, 2).float() * 40
    assert ZoeMaskedDiceLoss()(perfect, labels).item() < 1e-6


@pytest.mark.parametrize('seed', [0, 1])
@pytest.mark.parametrize('gamma,alpha', [(2.0, None), (0.0, None),
                                         (1.5, 0.25),
                                         (2.0, [0.1, 0.2, 0.3, 0.4, 0.5])])
def test_focal_matches_reference(seed, gamma, alpha):
    logits, labels = _data(seed)
    loss = ZoeSoftmaxFocalLoss(gamma=gamma, alpha=alpha, loss_weight=0.7)
    got = loss(logits, labels, ignore_index=IGNORE).item()
    want = ref_focal(logits.numpy(), labels.numpy(), gamma=gamma, alpha=alpha)
    assert got == pytest.approx(0.7 * want, rel=1e-5, abs=1e-7)


def test_focal_gamma0_is_cross_entropy_and_weight():
    logits, labels = _data(5)
    got = ZoeSoftmaxFocalLoss(gamma=0.0)(logits, labels).item()
    ce = torch.nn.functional.cross_entropy(
        logits, labels, ignore_index=IGNORE).item()
    assert got == pytest.approx(ce, rel=1e-5)
    weight = torch.rand(
        labels.shape, generator=torch.Generator().manual_seed(2))
    got_w = ZoeSoftmaxFocalLoss()(logits, labels, weight=weight).item()
    want_w = ref_focal(logits.numpy(), labels.numpy(), weight=weight.numpy())
    assert got_w == pytest.approx(want_w, rel=1e-5)


def test_gradients_finite_differences():
    logits, labels = _data(6, n=1, c=4, h=3, w=4, scale=1.0)
    x = logits.double().requires_grad_(True)
    for loss in (ZoeMaskedDiceLoss(), ZoeSoftmaxFocalLoss(alpha=[.2, .4, .6,
                                                                 .8])):
        assert torch.autograd.gradcheck(lambda t: loss(t, labels), (x, ))
    # ignored pixels get exactly zero gradient
    for loss in (ZoeMaskedDiceLoss(), ZoeSoftmaxFocalLoss()):
        y = logits.clone().requires_grad_(True)
        loss(y, labels).backward()
        ign = (labels == IGNORE).unsqueeze(1).expand_as(y)
        assert ign.any()
        assert torch.all(y.grad[ign] == 0)
        assert torch.all(torch.isfinite(y.grad))


@pytest.mark.parametrize('cls', [ZoeMaskedDiceLoss, ZoeSoftmaxFocalLoss])
@pytest.mark.parametrize('smooth_or_gamma', [None, 0.0])
def test_all_ignored_gives_zero_connected_loss(cls, smooth_or_gamma):
    kwargs = {}
    if smooth_or_gamma is not None:
        kwargs = ({'smooth': 0.0} if cls is ZoeMaskedDiceLoss else {
            'gamma': 0.5
        })
    loss = cls(loss_weight=0.05, **kwargs)
    logits = (torch.randn(2, 14, 5, 5) * 100).requires_grad_(True)
    labels = torch.full((2, 5, 5), IGNORE, dtype=torch.long)
    for expected_count in (1, 2):
        out = loss(logits, labels)
        assert out.requires_grad and out.grad_fn is not None
        assert out.item() == 0.0 and math.isfinite(out.item())
        out.backward()
        assert torch.all(logits.grad == 0)
        assert loss.num_empty_batches == expected_count
        logits.grad = None
    # an empty tensor (no pixels at all) also gives 0
    empty = torch.zeros(1, 14, 0, 4, requires_grad=True)
    out = loss(empty, torch.zeros(1, 0, 4, dtype=torch.long))
    assert out.item() == 0.0


def test_extreme_logits_stay_finite():
    logits, labels = _data(7, scale=1e4)
    for loss in (ZoeMaskedDiceLoss(), ZoeSoftmaxFocalLoss(gamma=0.5),
                 ZoeSoftmaxFocalLoss()):
        x = logits.clone().requires_grad_(True)
        out = loss(x, labels)
        out.backward()
        assert math.isfinite(out.item())
        assert torch.all(torch.isfinite(x.grad))


def test_bad_labels_and_shapes_raise():
    logits, labels = _data(8)
    bad = labels.clone()
    bad[0, 0, 0] = 7  # 5 classes
    for loss in (ZoeMaskedDiceLoss(), ZoeSoftmaxFocalLoss()):
        with pytest.raises(ValueError, match='outside'):
            loss(logits, bad)
        with pytest.raises(ValueError, match='do not match'):
            loss(logits, labels[:, :3])
        with pytest.raises(ValueError, match='integers'):
            loss(logits, labels.float())
    with pytest.raises(ValueError, match='alpha'):
        ZoeSoftmaxFocalLoss(alpha=[1.0, 2.0])(logits, labels)


def test_registry_and_mmseg_loss_interface():
    dice = MODELS.build(dict(type='ZoeMaskedDiceLoss', loss_name='loss_d'))
    focal = MODELS.build(dict(type='mmzoe.ZoeSoftmaxFocalLoss'))
    assert dice.loss_name == 'loss_d' and focal.loss_name == 'loss_focal'
    logits, labels = _data(9)
    # the call BaseDecodeHead.loss_by_feat makes
    for loss in (dice, focal):
        out = loss(logits, labels, weight=None, ignore_index=IGNORE)
        assert out.dim() == 0
    # ignore_index given to forward wins over the constructor's
    labels2 = labels.clone()
    labels2[labels2 == IGNORE] = 99
    a = ZoeSoftmaxFocalLoss(ignore_index=99)(logits, labels2).item()
    b = ZoeSoftmaxFocalLoss()(logits, labels2, ignore_index=99).item()
    assert a == pytest.approx(b) == pytest.approx(
        ref_focal(logits.numpy(), labels.numpy()), rel=1e-5)
    assert np.isfinite(a)
