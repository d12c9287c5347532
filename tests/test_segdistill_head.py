"""ZoeUNetSegHead on its own: structure, parameter count, losses, config."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import mmzoe  # noqa: F401
from mmzoe.models.decode_heads import ZoeUNetSegHead
from mmzoe.models.utils import ZoeCoreOutput
from mmzoe.registry import MODELS

from test_segdistill_losses import IGNORE, ref_dice, ref_focal

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _neck_tuple(batch=2, ch=256, size=32, gen=None):
    """Fake ZoeDPTNeck output: 5 maps at 1/32..1/2 of ``size`` + 2 extras."""
    feats = [
        torch.randn(batch, ch, size // s, size // s, generator=gen)
        for s in (32, 16, 8, 4, 2)
    ]
    return ZoeCoreOutput(
        bottleneck=feats[0], decoder=feats[1:],
        out_conv=torch.randn(batch, 32, size, size, generator=gen),
        rel_depth=torch.rand(batch, 1, size, size, generator=gen))


def _count_conv_params(cin, cout, k):
    return cin * cout * k * k + cout


def _expected_params(upsample_mode):
    """Count from the documented layout (conv weights + biases)."""
    widths = [256, 128, 64, 32, 16]
    skips = [256, 256, 256, 256, 0]
    prev, total = 256, 0
    for w, s in zip(widths, skips):
        if upsample_mode == 'deconv':  # 2x2 transposed conv, prev -> prev
            total += _count_conv_params(prev, prev, 2)
        total += _count_conv_params(prev + s, w, 3) + _count_conv_params(
            w, w, 3)
        prev = w
    return total + _count_conv_params(16, 14, 1)


@pytest.mark.parametrize('mode', ['deconv', 'bilinear'])
def test_default_parameter_count_and_structure(mode):
    head = ZoeUNetSegHead(upsample_mode=mode)
    n = sum(p.numel() for p in head.parameters())
    assert n == _expected_params(mode)
    if mode == 'deconv':  # the default
        assert n == sum(p.numel() for p in ZoeUNetSegHead().parameters())
    assert 2.5e6 <= n <= 3.5e6, n
    assert head.num_classes == 14 and head.ignore_index == 255
    assert len(head.up_blocks) == 5
    with pytest.raises(ValueError, match='upsample_mode'):
        ZoeUNetSegHead(upsample_mode='nearest')


@pytest.mark.parametrize('mode', ['deconv', 'bilinear'])
def test_forward_shapes_and_every_param_gets_grad(mode):
    torch.manual_seed(0)
    head = ZoeUNetSegHead(
        in_channels=[16] * 5, block_channels=[16, 8, 8, 4, 4],
        upsample_mode=mode)
    head.init_weights()
    feats = _neck_tuple(batch=2, ch=16, size=64)
    out = head(feats)
    assert out.shape == (2, 14, 64, 64)
    labels = torch.randint(0, 14, (2, 64, 64))
    labels[:, :5] = IGNORE
    samples = []
    for b in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=labels[b:b + 1])
        samples.append(s)
    losses = head.loss(feats, samples, None)
    assert set(losses) == {'loss_dice', 'loss_focal', 'acc_seg'}
    (losses['loss_dice'] + losses['loss_focal']).backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # wrong channel count is a clear error
    with pytest.raises(ValueError, match='channels'):
        head(_neck_tuple(batch=1, ch=8, size=64))


def test_loss_is_lambda_times_seg_loss_on_upsampled_logits():
    gen = torch.Generator().manual_seed(1)
    head = ZoeUNetSegHead(
        in_channels=[8] * 5, block_channels=[8, 8, 4, 4, 4], dice_ratio=0.3)
    feats = _neck_tuple(batch=2, ch=8, size=32, gen=gen)
    labels = torch.randint(0, 14, (2, 20, 24), generator=gen)
    labels[torch.rand(2, 20, 24, generator=gen) < 0.25] = IGNORE
    samples = []
    for b in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=labels[b:b + 1])
        samples.append(s)
    with torch.no_grad():
        losses = head.loss(feats, samples, None)
        logits = head(feats)
    up = F.interpolate(
        logits, size=(20, 24), mode='bilinear', align_corners=True).numpy()
    dice = ref_dice(up, labels.numpy())
    focal = ref_focal(up, labels.numpy(), gamma=2.0)
    assert losses['loss_dice'].item() == pytest.approx(
        0.1 * 0.3 * dice, rel=1e-4)
    assert losses['loss_focal'].item() == pytest.approx(
        0.1 * 0.7 * focal, rel=1e-4)


def test_loss_options():
    head = ZoeUNetSegHead(
        in_channels=[4] * 5,
        block_channels=[4] * 5,
        lambda_dis=0.2,
        focal_cfg=dict(gamma=1.0, alpha=[1.0] * 14),
        dice_cfg=dict(smooth=0.5))
    dice, focal = head.loss_decode
    assert dice.loss_weight == pytest.approx(0.1)
    assert focal.loss_weight == pytest.approx(0.1)
    assert focal.gamma == 1.0 and dice.smooth == 0.5
    with pytest.raises(ValueError, match='not both'):
        ZoeUNetSegHead(
            loss_decode=dict(type='mmzoe.ZoeMaskedDiceLoss'), dice_ratio=0.5)
    with pytest.raises(ValueError, match='dice_ratio'):
        ZoeUNetSegHead(dice_ratio=1.5)
    with pytest.raises(ValueError, match='block_channels'):
        ZoeUNetSegHead(block_channels=[16, 8])
    explicit = ZoeUNetSegHead(
        in_channels=[4] * 5,
        block_channels=[4] * 5,
        loss_decode=[dict(type='mmzoe.ZoeSoftmaxFocalLoss', loss_weight=1.0)])
    assert [m.loss_name for m in explicit.loss_decode] == ['loss_focal']


def test_base_config_builds_default_head():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/models/aux_unet_seg.py'))
    head = MODELS.build(cfg.aux_unet_seg_head)
    assert isinstance(head, ZoeUNetSegHead)
    n = sum(p.numel() for p in head.parameters())
    assert n == _expected_params('deconv')
    weights = {m.loss_name: m.loss_weight for m in head.loss_decode}
    assert weights == pytest.approx({'loss_dice': 0.05, 'loss_focal': 0.05})


def test_padded_batch_keeps_logits_and_labels_aligned():
    """Labels padded to a common size (gt_seg_shape in metainfo): each
    sample's logits are resized to its own label size, the padding is
    ignored."""
    gen = torch.Generator().manual_seed(3)
    head = ZoeUNetSegHead(
        in_channels=[8] * 5, block_channels=[8, 8, 4, 4, 4],
        upsample_mode='bilinear')
    feats = _neck_tuple(batch=2, ch=8, size=32, gen=gen)
    sizes = [(20, 24), (13, 17)]
    raw = [torch.randint(0, 14, s, generator=gen) for s in sizes]
    raw[1][0, :3] = IGNORE
    samples = []
    for lab, (h, w) in zip(raw, sizes):
        padded = torch.full((1, 20, 24), IGNORE, dtype=torch.long)
        padded[0, :h, :w] = lab
        samples.append(
            SegDataSample(
                metainfo=dict(gt_seg_shape=(h, w)),
                gt_sem_seg=PixelData(data=padded)))
    with torch.no_grad():
        losses = head.loss(feats, samples, None)
        logits = head(feats)
    # reference: per-sample resize, then the pixels of both samples pooled
    ups = [
        F.interpolate(logits[i:i + 1], size=sizes[i], mode='bilinear',
                      align_corners=True) for i in range(2)
    ]
    flat_logits = torch.cat([u.flatten(2) for u in ups], dim=2)[..., None]
    flat_labels = torch.cat([r.flatten() for r in raw])[None, :, None]
    dice = ref_dice(flat_logits.numpy(), flat_labels.numpy())
    focal = ref_focal(flat_logits.numpy(), flat_labels.numpy())
    assert losses['loss_dice'].item() == pytest.approx(0.05 * dice, rel=1e-4)
    assert losses['loss_focal'].item() == pytest.approx(
        0.05 * focal, rel=1e-4)
    # a sample without labels is a clear error
    with pytest.raises(KeyError, match='gt_sem_seg'):
        head.loss(feats, [SegDataSample(), SegDataSample()], None)
