"""Tiny ZoeDepthEstimator + ZoeUNetSegHead: losses, predict, aux_seg, train."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.evaluation import IoUMetric

import mmzoe  # noqa: F401

from zoe_testing import IGNORE, ref_dice, ref_focal
from zoe_testing import SEG_NUM_CLASSES as NUM_CLASSES
from zoe_testing import build_segdistill as _build
from zoe_testing import segdistill_batch as _batch


def _preprocess(model, batch, training):
    return model.data_preprocessor(copy.deepcopy(batch), training)


def test_loss_dict_and_total():
    model = _build()
    model.eval()  # no stochastic layers: the two passes below must agree
    data = _preprocess(model, _batch(), training=True)
    losses = model(**data, mode='loss')
    decode = {k: v for k, v in losses.items() if k.startswith('decode.loss')}
    assert decode, losses.keys()
    assert {'aux.loss_dice', 'aux.loss_focal'} <= set(losses)
    assert not any(k.startswith('loss') for k in losses)  # all prefixed
    total, log_vars = model.parse_losses(losses)
    # L_seg from the same logits, computed independently
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
        logits = model.auxiliary_head(feats)
    labels = torch.stack(
        [s.gt_sem_seg.data[0] for s in data['data_samples']]).numpy()
    up = F.interpolate(
        logits, size=labels.shape[1:], mode='bilinear',
        align_corners=True).numpy()
    l_seg = 0.5 * ref_dice(up, labels) + 0.5 * ref_focal(up, labels)
    l_pixel = sum(v.item() for v in decode.values())
    assert total.item() == pytest.approx(l_pixel + 0.1 * l_seg, rel=1e-4)
    assert (losses['aux.loss_dice'] + losses['aux.loss_focal']).item() == \
        pytest.approx(0.1 * l_seg, rel=1e-4)
    assert log_vars['loss'].item() == pytest.approx(total.item())


def _hook_all(module, calls):
    return [
        m.register_forward_hook(lambda *args: calls.append(1))
        for m in module.modules()
    ]


def test_predict_skips_aux_head_and_matches_model_without_it():
    model = _build()
    plain = _build(with_aux=False, seed=1)
    state = {
        k: v
        for k, v in model.state_dict().items()
        if not k.startswith('auxiliary_head.')
    }
    plain.load_state_dict(state, strict=True)
    model.eval()
    plain.eval()
    calls = []
    # heads call self.forward() directly, so hook every submodule too
    handles = _hook_all(model.auxiliary_head, calls)
    batch = _batch(seed=2)
    with torch.no_grad():
        out = model.test_step(copy.deepcopy(batch))
        out_plain = plain.test_step(copy.deepcopy(batch))
    for h in handles:
        h.remove()
    assert calls == []
    for a, b in zip(out, out_plain):
        assert a.pred_depth_map.data.shape == (1, 40, 56)
        assert torch.equal(a.pred_depth_map.data, b.pred_depth_map.data)
        assert 'pred_sem_seg' not in a
    # the hook does fire in training
    model.train()
    data = _preprocess(model, batch, training=True)
    handles = _hook_all(model.auxiliary_head, calls)
    model(**data, mode='loss')
    for h in handles:
        h.remove()
    assert len(calls) > 0


def _ref_miou(preds, gts, num_classes):
    """Per-class IoU by counting, mean over classes with a non-empty union."""
    ious = []
    for c in range(num_classes):
        inter = union = 0
        for p, g in zip(preds, gts):
            valid = g != IGNORE
            inter += int(np.sum((p == c) & (g == c) & valid))
            union += int(np.sum(((p == c) | (g == c)) & valid))
        if union > 0:
            ious.append(inter / union)
    return 100.0 * float(np.mean(ious))


def test_aux_seg_predict_and_miou():
    model = _build(aux_seg=True)
    model.eval()
    batch = _batch(seed=3, size=(36, 44))
    calls = []
    handles = _hook_all(model.auxiliary_head, calls)
    with torch.no_grad():
        outs = model.test_step(copy.deepcopy(batch))
    for h in handles:
        h.remove()
    assert len(calls) > 0  # the hooks do see an aux-head forward
    with torch.no_grad():
        data = _preprocess(model, batch, training=False)
        logits = model.auxiliary_head(model.extract_feat(data['inputs']))
    want = F.interpolate(
        logits, size=(36, 44), mode='bilinear',
        align_corners=True).argmax(1)
    preds = []
    for i, out in enumerate(outs):
        pred = out.pred_sem_seg.data
        assert pred.shape == (1, 36, 44)
        assert torch.equal(pred[0], want[i])
        preds.append(pred[0].numpy())
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(
        classes=[f'class{i}' for i in range(NUM_CLASSES)],
        palette=[[i, i, i] for i in range(NUM_CLASSES)])
    metric.process(batch, [o.to_dict() for o in outs])
    res = metric.compute_metrics(metric.results)
    gts = [s.gt_sem_seg.data[0].numpy() for s in batch['data_samples']]
    assert res['mIoU'] == pytest.approx(
        _ref_miou(preds, gts, NUM_CLASSES), abs=0.01)
    # aux_seg without an auxiliary head is refused
    with pytest.raises(ValueError, match='aux_seg'):
        _build(with_aux=False, aux_seg=True)


def test_tiny_training_decreases_depth_and_seg_losses():
    model = _build(seed=4)
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    batch = _batch(seed=5)
    history = []
    for _ in range(25):
        data = _preprocess(model, batch, training=True)
        losses = model(**data, mode='loss')
        total, _ = model.parse_losses(losses)
        optim.zero_grad()
        total.backward()
        optim.step()
        depth = sum(v.item() for k, v in losses.items()
                    if k.startswith('decode.loss'))
        seg = losses['aux.loss_dice'].item() + losses['aux.loss_focal'].item()
        history.append((depth, seg))
        assert np.isfinite(depth) and np.isfinite(seg)
    first = np.mean(history[:3], axis=0)
    last = np.mean(history[-3:], axis=0)
    assert last[0] < 0.9 * first[0], history
    assert last[1] < 0.9 * first[1], history
