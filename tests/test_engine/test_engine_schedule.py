"""ZoeDepth's optimisation recipe pieces: one-cycle schedules, param groups."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

import mmzoe  # noqa: F401
from mmzoe.engine import (ZoeDepthOptimWrapperConstructor, ZoeOneCycleLR,
                          ZoeOneCycleMomentum)


class _Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(3, 4)
        self.neck = nn.Linear(4, 4)
        self.decode_head = nn.Linear(4, 1)
        self.auxiliary_head = nn.Linear(4, 2)


def _reference_schedule(lrs, total, pct, div, final_div, three_phase=False):
    """lr and beta1 per step from torch's own OneCycleLR (upstream's)."""
    params = [nn.Parameter(torch.zeros(1)) for _ in lrs]
    opt = torch.optim.AdamW([dict(params=[p], lr=lr)
                             for p, lr in zip(params, lrs)],
                            weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=list(lrs), total_steps=total, pct_start=pct,
        div_factor=div, final_div_factor=final_div, anneal_strategy='cos',
        three_phase=three_phase, cycle_momentum=True, base_momentum=0.85,
        max_momentum=0.95)
    out = []
    for _ in range(total):
        out.append(([g['lr'] for g in opt.param_groups],
                    [g['betas'][0] for g in opt.param_groups]))
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize('three_phase', [False, True])
def test_one_cycle_matches_torch(three_phase):
    lrs = [1.61e-5, 1.61e-4, 1.61e-4]
    total, pct = 37, 0.7
    ref = _reference_schedule(lrs, total, pct, 1., 1e4, three_phase)
    params = [nn.Parameter(torch.zeros(1)) for _ in lrs]
    opt = OptimWrapper(torch.optim.AdamW(
        [dict(params=[p], lr=lr) for p, lr in zip(params, lrs)],
        weight_decay=0.01))
    lr_s = ZoeOneCycleLR(opt, total_steps=total, pct_start=pct,
                         div_factor=1., final_div_factor=1e4,
                         three_phase=three_phase, by_epoch=False)
    mom_s = ZoeOneCycleMomentum(opt, total_steps=total, pct_start=pct,
                                three_phase=three_phase, by_epoch=False)
    for step in range(total):
        got_lr = [g['lr'] for g in opt.optimizer.param_groups]
        got_b1 = [g['betas'][0] for g in opt.optimizer.param_groups]
        assert got_lr == pytest.approx(ref[step][0], rel=1e-9), step
        assert got_b1 == pytest.approx(ref[step][1], rel=1e-9), step
        opt.step()
        lr_s.step()
        mom_s.step()
    # the recipe's landmarks: div_factor 1 keeps the first phase at max_lr,
    # beta1 starts at 0.95, and the last step reaches max_lr / 1e4
    assert ref[0][1] == pytest.approx([0.95] * 3)
    if not three_phase:
        assert ref[int(pct * total) - 2][0] == pytest.approx(lrs)
        assert ref[-1][0] == pytest.approx([lr / 1e4 for lr in lrs])


def test_momentum_resume_state_dict():
    p = nn.Parameter(torch.zeros(1))
    opt = OptimWrapper(torch.optim.AdamW([p], lr=1e-3))
    s = ZoeOneCycleMomentum(opt, total_steps=10, pct_start=0.7,
                            by_epoch=False)
    for _ in range(4):
        s.step()
    state = copy.deepcopy(s.state_dict())
    expected = opt.param_groups[0]['betas'][0]
    opt2 = OptimWrapper(torch.optim.AdamW([p], lr=1e-3))
    s2 = ZoeOneCycleMomentum(opt2, total_steps=10, pct_start=0.7,
                             by_epoch=False)
    s2.load_state_dict(state)
    assert s2.last_step == s.last_step
    s.step()
    s2.step()
    assert opt2.param_groups[0]['betas'][0] == pytest.approx(
        opt.param_groups[0]['betas'][0])
    assert opt.param_groups[0]['betas'][0] != expected


def test_optim_constructor_groups():
    model = _Toy()
    ctor = ZoeDepthOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=1.61e-4, weight_decay=0.01)),
        dict(encoder_lr_factor=10, decoder_lr_factor=1))
    wrapper = ctor(model)
    groups = wrapper.optimizer.param_groups
    assert [g['name'] for g in groups] == ['encoder', 'decoder', 'head']
    assert [g['lr'] for g in groups] == pytest.approx(
        [1.61e-5, 1.61e-4, 1.61e-4])
    assert all(g['weight_decay'] == 0.01 for g in groups)
    n = [sum(p.numel() for p in g['params']) for g in groups]
    assert n == [16, 20, 5 + 10]
    # every trainable parameter is in exactly one group
    ids = [id(p) for g in groups for p in g['params']]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())


def test_optim_constructor_freeze_and_unknown_key():
    model = _Toy()
    ctor = ZoeDepthOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=1e-3)),
        dict(encoder_lr_factor=0))
    wrapper = ctor(model)
    assert [g['name'] for g in wrapper.optimizer.param_groups] == [
        'decoder', 'head']
    assert not model.backbone.weight.requires_grad
    with pytest.raises(KeyError, match='bogus'):
        ZoeDepthOptimWrapperConstructor(
            dict(optimizer=dict(type='AdamW', lr=1e-3)), dict(bogus=1))


def test_scheduler_state_loads_weights_only(tmp_path):
    p = nn.Parameter(torch.zeros(1))
    opt = OptimWrapper(torch.optim.AdamW([p], lr=1e-3))
    scheds = [ZoeOneCycleLR(opt, total_steps=10, pct_start=0.7,
                            by_epoch=False),
              ZoeOneCycleMomentum(opt, total_steps=10, pct_start=0.7,
                                  by_epoch=False)]
    for s in scheds:
        s.step()
    torch.save([s.state_dict() for s in scheds], tmp_path / 's.pth')
    states = torch.load(tmp_path / 's.pth', weights_only=True)
    for s, state in zip(scheds, states):
        assert 'anneal_func' not in state
        assert state['last_step'] == s.last_step
